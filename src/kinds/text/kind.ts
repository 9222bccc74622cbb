/**
 * The text-classifier kind: metadata.json with labels and a text pipeline (e-mail and HTML
 * reading, normalisation, tokenizer, vocabulary file, tf-idf features), and a model (ONNX)
 * over the features. Takes `{"text"}` / `{"input"}` JSON, text/plain and message/rfc822 bodies.
 */
import { invalidInput, ServingError } from '../../serving/errors.js';
import { checkProbabilities, classAnswer, classSummary, predictionSchema } from '../answers.js';
import type { BindContext, InputWarning, KindModel, ModelKind } from '../kind.js';
import { parseMetadata, temperatureOf } from '../metadata.js';
import { analyser } from './analyse.js';
import { planTextExplanation } from './explain.js';
import { readSingleText, readTextBatch } from './inputs.js';
import { textMetadataSchema, type TextMetadata } from './metadata.js';
import { textTensors } from './open-inference.js';
import { textOpenApi, textRequestBodies } from './openapi.js';
import type { TextInput } from './pipeline.js';
import { textExplanationSchema } from './schemas.js';
import { readVocabulary } from './vocabulary.js';

const SAMPLE_TEXT = 'Hello, this is a short sample text: the model reads it once before the version serves.';

/** Space, tab, line feed, vertical tab, form feed, carriage return. */
const isAsciiSpace = (b: number): boolean => b === 32 || (b >= 9 && b <= 13);

/** Refuse what no pipeline step can use; the warnings the text itself calls for. */
function checkInput(input: TextInput, maxTextBytes: number): InputWarning[] {
  if ('email' in input) {
    const bytes = input.email;
    if (bytes.length > maxTextBytes) throw new ServingError('too-large', 'text-too-large', `the e-mail is ${bytes.length} bytes; MAX_TEXT_BYTES is ${maxTextBytes}`);
    if (bytes.includes(0)) throw invalidInput('nul-character', 'the e-mail holds NUL bytes, which RFC 5322 messages never do');
    if (bytes.every(isAsciiSpace)) throw invalidInput('empty-text', 'the e-mail is empty');
    return [];
  }
  const { text } = input;
  const bytes = Buffer.byteLength(text);
  if (bytes > maxTextBytes) throw new ServingError('too-large', 'text-too-large', `the text is ${bytes} bytes of UTF-8; MAX_TEXT_BYTES is ${maxTextBytes}`);
  if (text.trim() === '') throw invalidInput('empty-text', text === '' ? 'the text is empty' : 'the text is only whitespace');
  if (text.includes('\0')) throw invalidInput('nul-character', 'the text holds NUL characters (U+0000)');
  if (/[\uD800-\uDFFF]/u.test(text)) throw invalidInput('invalid-unicode', 'the text holds an unpaired UTF-16 surrogate (a lone \\ud800-\\udfff escape), which is no Unicode character');
  const replaced = text.split('\uFFFD').length - 1;
  return replaced > 0 ? [{ message: `the text holds ${replaced} U+FFFD replacement character${replaced === 1 ? '' : 's'}: where a JSON body was not valid UTF-8, its bytes were replaced by them` }] : [];
}

async function bind(metadata: TextMetadata, { name, dir, limits }: BindContext): Promise<KindModel<TextInput>> {
  const spec = metadata.text;
  const vocabulary = await readVocabulary(dir, spec.features.vocabulary, spec.features.size);
  const labels = metadata.labels;
  const what = `model '${name}' (text-classifier)`;
  const analyse = analyser(spec, vocabulary, limits.maxTextBytes);
  const inspect = (input: TextInput) => {
    const warnings = checkInput(input, limits.maxTextBytes);
    // An e-mail's bytes and a text are keyed apart: the same bytes are read differently.
    const key = 'email' in input ? { bytes: input.email, variant: 'rfc822' } : { bytes: Buffer.from(input.text), variant: 'text' };
    return {
      key,
      warnings,
      async prepare() {
        const analysed = await analyse(input);
        return { tensor: analysed.tensor, note: analysed.form, warnings: analysed.warnings };
      },
    };
  };
  return {
    kind: metadata.kind,
    labels,
    signature: { inputShape: [spec.features.size], outputs: labels.length },
    runtime: { ...(metadata.onnx && { onnx: metadata.onnx }), ...temperatureOf(metadata.calibration), only: { runtime: 'onnx', why: 'text models are served by ONNX Runtime' } },
    contract: JSON.stringify({ text: spec, vocabulary: vocabulary.digest }),

    sampleInput: async () => (await analyse({ text: metadata.examples?.[0]?.text ?? SAMPLE_TEXT })).tensor,
    checkOutput: (output) => checkProbabilities(output, labels, 'a sample text'),
    describe: () => ({
      kind: metadata.kind,
      description: metadata.description ?? null,
      labels: [...labels],
      text: {
        email: spec.email.read === 'detect' ? 'message/rfc822 bodies, and texts that start with header fields, are read as e-mails' : 'never read as e-mails',
        headers: spec.email.headers,
        tokenizer: spec.tokenizer,
        features: { ngrams: spec.features.ngrams, weighting: spec.features.weighting, size: spec.features.size },
      },
      examples: metadata.examples ?? [],
      calibration: metadata.calibration ?? null,
      validation: metadata.validation ?? null,
      accuracy: typeof metadata.validation?.accuracy === 'number' ? metadata.validation.accuracy : null,
    }),

    readSingle: async (body) => readSingleText(body, what),
    readBatch: async (body) => readTextBatch(body, what, limits),
    inspect,
    answer: (output, { topK }) => classAnswer(labels)(output, topK),
    summarize: classSummary(labels),
    openInference: textTensors(metadata),
    planExplanation: (input, request) => {
      checkInput(input, limits.maxTextBytes);
      return planTextExplanation(labels, name, () => analyse(input), request);
    },
    openApi: textOpenApi,
  };
}

export const textClassifierKind: ModelKind<TextMetadata> = {
  names: ['text-classifier'],
  parseMetadata: (raw) => parseMetadata(textMetadataSchema, raw),
  bind,
  answerSchemas: [predictionSchema],
  explanationSchemas: [textExplanationSchema],
  requestBodies: textRequestBodies,
};
