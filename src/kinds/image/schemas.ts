/** The image classifier's native request bodies and its explanation answer. */
import { z } from 'zod';
import { modelRefSchema } from '../../schemas/predict.js';

export const predictJsonBodySchema = z.object({ image: z.string().min(1).describe('The image file, base64-encoded (a data: URL prefix is accepted)') });

export const predictMultipartBodySchema = z.object({ file: z.file().describe('The image file (JPEG, PNG, WebP, GIF, TIFF or AVIF)') });

export const batchJsonBodySchema = z.object({ images: z.array(z.string().min(1)).min(1).describe('Base64-encoded image files') });

export const batchMultipartBodySchema = z.object({ files: z.array(z.file()).min(1).describe('One or more image files, as repeated "files" fields') });

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
