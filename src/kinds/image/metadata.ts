/**
 * `<repository>/<name>/<version>/metadata.json` of an image classifier: what the model is,
 * and how its inputs must be prepared. Its bounds keep hostile files from asking for
 * unbounded memory (an input of 100000 × 100000 pixels, a million labels).
 */
import { z } from 'zod';
import { preprocessingContractSchema } from '../../preprocessing/contract.js';
import { onnxSectionSchema } from '../../runtimes/onnx/metadata.js';
import { calibrationSchema, readMetadataJson } from '../metadata.js';

/** Largest side of an input image, values in one input, and labels. */
const IMAGE_LIMITS = { maxSide: 4096, maxInputValues: 1 << 24, maxLabels: 10_000 };

const side = z.number().int().positive().max(IMAGE_LIMITS.maxSide);

export const imageMetadataSchema = z.object({
  kind: z.literal('image-classifier').default('image-classifier'),
  /** Informational: the repository folder names the model. */
  name: z.string().min(1).max(200).optional(),
  /** Informational: the version folder's number is the served version. */
  version: z.string().min(1).max(200).optional(),
  description: z.string().max(10_000).optional(),
  labels: z.array(z.string().min(1).max(200)).min(2).max(IMAGE_LIMITS.maxLabels),
  /** [height, width, channels] of one input image. */
  inputShape: z
    .tuple([side, side, z.literal(3)])
    .refine(([h, w, c]) => h * w * c <= IMAGE_LIMITS.maxInputValues, { message: `an input may hold at most ${IMAGE_LIMITS.maxInputValues} values` }),
  output: z.literal('probabilities'),
  preprocessing: preprocessingContractSchema,
  parameters: z.number().int().nonnegative(),
  multiplyAdds: z.number().int().nonnegative(),
  validation: z
    .object({
      accuracy: z.number().min(0).max(1),
      images: z.number().int().nonnegative(),
      split: z.string(),
      perClass: z.record(z.string(), z.number()).optional(),
      /** The record of which images trained, calibrated and judge the model (splits.json). */
      splits: z.string().max(200).optional(),
      /** The held-out accuracy's bootstrap interval, and calibration figures. */
      accuracyInterval: z.record(z.string(), z.number()).optional(),
      calibration: z.record(z.string(), z.unknown()).optional(),
    })
    .optional(),
  training: z.record(z.string(), z.unknown()).optional(),
  /** How the ONNX Runtime serves the version's model.onnx (see runtimes/onnx/metadata.ts). */
  onnx: onnxSectionSchema.optional(),
  calibration: calibrationSchema.optional(),
  createdAt: z.string().optional(),
});

export type ImageMetadata = z.infer<typeof imageMetadataSchema>;

/** Read and validate `dir/metadata.json` of an image classifier. */
export async function readImageMetadata(dir: string): Promise<ImageMetadata> {
  const parsed = imageMetadataSchema.safeParse(await readMetadataJson(dir));
  if (!parsed.success) throw new Error(`invalid metadata.json: ${z.prettifyError(parsed.error).replace(/\n\s*/g, ' ')}`);
  return parsed.data;
}

/** Values in one input image (H × W × C). */
export function inputSizeOf(metadata: ImageMetadata): number {
  return metadata.inputShape.reduce((a, b) => a * b, 1);
}
