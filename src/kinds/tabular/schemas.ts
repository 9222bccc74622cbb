/** The tabular kinds' explanation answer. */
import { z } from 'zod';
import { modelRefSchema } from '../../schemas/predict.js';

export const rowExplanationSchema = z
  .object({
    method: z.literal('shapley'),
    class_label: z.string().optional().describe('Classifiers: the predicted class'),
    prediction: z.number().optional().describe('Regressors: the predicted value'),
    output: z.string().describe('The quantity explained: "probability of <label>" or "prediction"'),
    value: z.number().describe('The explained output at the input'),
    baseline_value: z.number().describe('The explained output at the baseline (the training mean of every feature)'),
    baseline: z.record(z.string(), z.number()).describe('The baseline row: the training mean of each feature'),
    attributions: z.record(z.string(), z.number()).describe('Exact Shapley value of each feature; they add up to value − baseline_value'),
    evaluations: z.number().int().describe('Model evaluations this explanation cost (2^features + 1)'),
    model: modelRefSchema,
    latency_ms: z.number(),
  })
  .meta({ id: 'RowExplanation' });
