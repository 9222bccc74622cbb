/** One input through a version's text pipeline: the text it holds, its tokens, its features and the model's input. */
import type { InputWarning } from '../kind.js';
import type { TextPipelineSpec } from './metadata.js';
import { dense, extractText, featuresOf, tokenize, type SparseVector, type TextForm, type TextInput, type Token } from './pipeline.js';
import type { Vocabulary } from './vocabulary.js';

export interface Analysed {
  /** The text the model read, and where it came from. */
  text: string;
  form: TextForm;
  tokens: Token[];
  /** More tokens than the pipeline's maxTokens: the rest was not read. */
  truncated: boolean;
  features: { vector: SparseVector; occurrences: Map<number, { first: number; length: number }[]> };
  /** The vocabulary's terms, by feature index. */
  terms: readonly string[];
  tensor: Float32Array;
  warnings: InputWarning[];
}

export function analyser(spec: TextPipelineSpec, vocabulary: Vocabulary, maxTextBytes: number): (input: TextInput) => Promise<Analysed> {
  return async (input) => {
    const { text, form, headerEnd } = await extractText(input, spec, maxTextBytes);
    const { tokens, truncated } = tokenize(text, spec, headerEnd);
    const features = featuresOf(tokens, vocabulary.index, vocabulary.idf, spec);
    const warnings: InputWarning[] = [];
    if (truncated) warnings.push({ message: `the text has more than ${spec.tokenizer.maxTokens} tokens; only the first ${spec.tokenizer.maxTokens} were read` });
    if (text.trim() === '') warnings.push({ message: `the ${form === 'email' ? 'e-mail' : 'HTML'} holds no text (only markup or images): the answer is the model's answer to an empty text` });
    else if (features.vector.indices.length === 0) warnings.push({ message: "none of the text's words are in the model's vocabulary: the answer is the model's answer to an empty text" });
    return { text, form, tokens, truncated, features, terms: vocabulary.terms, tensor: dense(features.vector, spec.features.size), warnings };
  };
}
