import { z } from 'zod';

export const modelRefSchema = z.object({ name: z.string(), version: z.string() }).meta({ id: 'ModelRef' });

export const topKEntrySchema = z.object({ label: z.string(), probability: z.number().min(0).max(1) }).meta({ id: 'TopKEntry' });

const predictionFields = {
  class_label: z.string().describe('Most likely class'),
  class_index: z.number().int().min(0).describe('Index of class_label in the model labels'),
  confidence: z.number().min(0).max(1).describe('Probability of class_label'),
  probabilities: z.array(z.number().min(0).max(1)).describe('One probability per label, in label order'),
  top_k: z.array(topKEntrySchema).describe('The top_k most likely labels, most likely first'),
  cached: z.boolean().describe('True when answered from the prediction cache (same input, same model version) without decoding or inference'),
  warnings: z.array(z.string()).optional().describe('Tabular inputs: feature values outside the range seen in training (answered all the same)'),
};

const regressionFields = {
  prediction: z.number().describe('The predicted value'),
  cached: predictionFields.cached,
  warnings: predictionFields.warnings,
};

const exampleProbabilities = [0.002, 0.001, 0.011, 0.912, 0.009, 0.048, 0.01, 0.004, 0.002, 0.001];

export const predictionSchema = z
  .object({
    ...predictionFields,
    model: modelRefSchema,
    latency_ms: z.number().describe('Server time for this request, decoding included'),
  })
  .meta({
    id: 'Prediction',
    example: {
      class_label: 'cat',
      class_index: 3,
      confidence: 0.912,
      probabilities: exampleProbabilities,
      top_k: [
        { label: 'cat', probability: 0.912 },
        { label: 'dog', probability: 0.048 },
        { label: 'bird', probability: 0.011 },
      ],
      cached: false,
      model: { name: 'cifar10', version: '1' },
      latency_ms: 4.1,
    },
  });

/** A tabular regressor's answer. */
export const regressionSchema = z
  .object({ ...regressionFields, model: modelRefSchema, latency_ms: z.number().describe('Server time for this request') })
  .meta({ id: 'Regression', example: { prediction: 5.62, cached: false, model: { name: 'wine-quality', version: '1' }, latency_ms: 1.2 } });

/** What a prediction route answers: a class (image or tabular classifier) or a value (regressor). */
export const predictResponseSchema = z.union([predictionSchema, regressionSchema]);

/** Tabular models: one row, in declared order or by feature name. */
export const tabularRowSchema = z.union([z.array(z.number()), z.record(z.string(), z.number())]);
export const tabularBodySchema = z.object({ features: tabularRowSchema.describe('The feature values: [5.1, 3.5, 1.4, 0.2] in declared order, or {"sepal_length": 5.1, ...}') });
export const tabularBatchBodySchema = z.object({ instances: z.array(tabularRowSchema).min(1).describe('Rows, each an array or an object, at most MAX_BATCH_FILES') });

export const predictQuerySchema = z.object({
  top_k: z.coerce.number().int().min(1).max(10).optional().describe('How many labels to return in top_k (1–10, default 3)'),
});

export const predictJsonBodySchema = z
  .object({ image: z.string().min(1).describe('The image file, base64-encoded (a data: URL prefix is accepted)') });

export const predictMultipartBodySchema = z
  .object({ file: z.file().describe('The image file (JPEG, PNG, WebP, GIF, TIFF or AVIF)') });

export const batchJsonBodySchema = z
  .object({ images: z.array(z.string().min(1)).min(1).describe('Base64-encoded image files') });

export const batchMultipartBodySchema = z
  .object({ files: z.array(z.file()).min(1).describe('One or more image files, as repeated "files" fields') });

export const itemErrorSchema = z
  .object({
    status: z.number().int(),
    title: z.string(),
    detail: z.string(),
    errors: z.array(z.object({ feature: z.string().optional(), message: z.string() })).optional(),
  })
  .meta({ id: 'BatchItemError' });

export const batchItemSchema = z
  .union([
    z.object({ index: z.number().int(), filename: z.string().nullable(), ...predictionFields }),
    z.object({ index: z.number().int(), filename: z.string().nullable(), ...regressionFields }),
    z.object({ index: z.number().int(), filename: z.string().nullable(), error: itemErrorSchema }),
  ])
  .meta({ id: 'BatchItem' });

export const batchResponseSchema = z
  .object({
    predictions: z.array(batchItemSchema).describe('One entry per image or row, in request order'),
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
  });
