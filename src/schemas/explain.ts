/** Explanations: the query and the two answers (images: an attribution map; rows: Shapley values). */
import { z } from 'zod';
import { modelRefSchema } from './predict.js';

export const explainQuerySchema = z.object({
  target: z.string().min(1).max(200).optional().describe('The class to explain (a label); default: the predicted class'),
  method: z.string().max(40).optional().describe('Images: occlusion (the default) or sampling (512 random pixel masks). Rows: shapley (the default)'),
  format: z.enum(['json', 'png']).optional().describe('Images: png for the attribution map drawn over the image (as Accept: image/png)'),
  patch: z.coerce.number().int().min(2).max(32).default(4).describe('Occlusion: side of the occluding patch in model-input pixels; it moves by half its side. Cost: (positions per side)² + 1 model evaluations (4 on 32×32: 226; 8: 50)'),
});

export const imageExplanationSchema = z
  .object({
    class_label: z.string().describe('The predicted class'),
    method: z.enum(['occlusion', 'sampling']),
    target: z.string().describe('The class explained'),
    probability: z.number().describe("The target's probability on the whole image"),
    attribution: z.array(z.array(z.number())).describe("Height × width at the model's input resolution. Occlusion: the mean drop of the target's probability when a patch covering the pixel is replaced by the dataset mean. Sampling: the target's mean probability over random masks that kept the pixel minus over those that hid it. Positive: evidence for the target"),
    patch: z.number().int().optional().describe('Occlusion: the side of the patch'),
    stride: z.number().int().optional().describe('Occlusion: the step between patch positions'),
    masks: z.number().int().optional().describe('Sampling: the random masks evaluated (each hides 20 % of the pixels)'),
    evaluations: z.number().int().describe('Model evaluations this explanation cost'),
    model: modelRefSchema,
    latency_ms: z.number(),
  })
  .meta({ id: 'ImageExplanation' });

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
