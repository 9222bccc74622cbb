/** The text classifier's native request bodies and its explanation answer. */
import { z } from 'zod';
import { modelRefSchema } from '../../schemas/predict.js';

export const predictTextBodySchema = z.union([
  z.object({ text: z.string().min(1).describe('The text: plain text, or a whole RFC 822 e-mail (headers, a blank line, the body), detected') }),
  z.object({ input: z.string().min(1).describe('The text, as `text` (the other common shape)') }),
]);

export const batchTextBodySchema = z.object({
  instances: z.array(z.union([z.string(), z.object({ text: z.string() })])).min(1).describe('The texts, each a string or {"text": "..."}'),
});

const tokenSchema = z.object({
  token: z.string().describe('The token as it appears in the text'),
  start: z.number().int().describe('Its first character (UTF-16 code unit offset) in the text the spans index'),
  end: z.number().int().describe('One past its last character'),
  attribution: z.number().describe("Its share of the attributions of the features it is part of (a word, a pair of words). Positive: evidence for the target"),
});

export const textExplanationSchema = z
  .object({
    method: z.literal('leave-one-out'),
    class_label: z.string().describe('The predicted class'),
    target: z.string().describe('The class explained'),
    probability: z.number().describe("The target's probability for the whole text"),
    output: z.string().describe('The quantity explained: the log-odds of the target (two classes)'),
    value: z.number().describe('The explained output for the text'),
    baseline_value: z.number().describe('The explained output for an empty text; for a linear model the attributions add up to value − baseline_value'),
    form: z.enum(['text', 'html', 'email']).describe('How the input was read: plain text, an HTML document, or an RFC 822 e-mail'),
    spans: z.enum(['submitted', 'text']).describe('What start and end index: the submitted text itself (plain text), or `text` (the text read from an e-mail or HTML)'),
    text: z.string().optional().describe('E-mail and HTML inputs: the text the model read (header lines, then the body as text)'),
    truncated: z.boolean().describe('The text had more tokens than the model reads; the rest has no attribution'),
    tokens: z.array(tokenSchema).describe('Every token with a non-zero attribution, in text order'),
    top_features: z
      .array(z.object({ term: z.string(), count: z.number().int(), attribution: z.number() }))
      .describe('The features with the largest attributions (either sign): term (words are normalised; h: marks header words), occurrences, attribution'),
    evaluations: z.number().int().describe('Model evaluations this explanation cost (one per distinct feature, plus two)'),
    model: modelRefSchema,
    latency_ms: z.number(),
  })
  .meta({ id: 'TextExplanation' });
