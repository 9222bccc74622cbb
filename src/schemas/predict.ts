/** The native prediction answers, composed from the answer forms of the kinds served. */
import { z } from 'zod';

export const modelRefSchema = z.object({ name: z.string(), version: z.string() }).meta({ id: 'ModelRef' });

export const topKEntrySchema = z.object({ label: z.string(), probability: z.number().min(0).max(1) }).meta({ id: 'TopKEntry' });

/** A querystring that refuses a parameter it does not know, naming the ones it takes (a misspelt `topk` is not silently ignored). */
export function queryParams<S extends z.ZodRawShape>(shape: S) {
  const accepted = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown query parameter ${issue.keys.map((k) => `'${k.slice(0, 64)}'`).join(', ')}; this route takes ${accepted}` : undefined),
  });
}

export const predictQuerySchema = queryParams({
  top_k: z.coerce.number().int().min(1).max(10).optional().describe('How many labels to return in top_k (1–10, default 3)'),
});

export const itemErrorSchema = z
  .object({
    status: z.number().int(),
    title: z.string(),
    detail: z.string(),
    errors: z.array(z.object({ feature: z.string().optional(), message: z.string() })).optional(),
  })
  .meta({ id: 'BatchItemError' });

const exampleProbabilities = [0.002, 0.001, 0.011, 0.912, 0.009, 0.048, 0.01, 0.004, 0.002, 0.001];

type AnswerSchema = z.ZodObject<{ model: typeof modelRefSchema; latency_ms: z.ZodNumber }>;

// Schema ids are registered once per process: each set of answer forms is composed once.
let nextId = 0;
const ids = new WeakMap<object, number>();
const composed = new Map<string, z.ZodType>();
function once(what: string, answers: readonly AnswerSchema[], make: () => z.ZodType): z.ZodType {
  const key = `${what}:${answers.map((a) => ids.get(a) ?? (ids.set(a, ++nextId), nextId)).join(',')}`;
  let schema = composed.get(key);
  if (!schema) composed.set(key, (schema = make()));
  return schema;
}

/** What a prediction route answers: one of the answer forms of the kinds served. */
export function predictResponseSchema(answers: readonly AnswerSchema[]): z.ZodType {
  return answers.length === 1 ? answers[0]! : once('single', answers, () => z.union(answers as unknown as [AnswerSchema, AnswerSchema]));
}

/** One entry of a batch answer: an answer (without model and latency) or an error. */
function batchItemSchema(answers: readonly AnswerSchema[]): z.ZodType {
  const place = { index: z.number().int(), filename: z.string().nullable() };
  const items = answers.map((a) => z.object({ ...place, ...a.omit({ model: true, latency_ms: true }).shape }));
  return z.union([...items, z.object({ ...place, error: itemErrorSchema })] as unknown as [z.ZodObject, z.ZodObject]).meta({ id: 'BatchItem' });
}

export function batchResponseSchema(answers: readonly AnswerSchema[]): z.ZodType {
  return once('batch', answers, () =>
    z
      .object({
        predictions: z.array(batchItemSchema(answers)).describe('One entry per image or row, in request order'),
        model: modelRefSchema,
        latency_ms: z.number(),
      })
      .meta({
        id: 'BatchPrediction',
    example: {
      predictions: [
        {
          index: 0,
          filename: 'cat.jpg',
          class_label: 'cat',
          class_index: 3,
          confidence: 0.912,
          probabilities: exampleProbabilities,
          top_k: [{ label: 'cat', probability: 0.912 }],
          cached: false,
        },
        { index: 1, filename: 'notes.txt', error: { status: 400, title: 'Bad Request', detail: 'the content is not a recognised image format' } },
      ],
      model: { name: 'cifar10', version: '1' },
      latency_ms: 9.7,
    },

  }),
  );
}
