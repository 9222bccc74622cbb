/** `models/<name>/metadata.json`: what a model is, and how its inputs must be prepared. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { preprocessingContractSchema } from '../preprocessing/contract.js';

export const modelMetadataSchema = z.object({
  name: z.string().min(1),
  version: z.string().min(1),
  description: z.string().optional(),
  labels: z.array(z.string().min(1)).min(2),
  /** [height, width, channels] of one input image. */
  inputShape: z.tuple([z.number().int().positive(), z.number().int().positive(), z.literal(3)]),
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
    })
    .optional(),
  training: z.record(z.string(), z.unknown()).optional(),
  createdAt: z.string().optional(),
});

export type ModelMetadata = z.infer<typeof modelMetadataSchema>;

/** Read and validate `dir/metadata.json`. */
export async function readMetadata(dir: string): Promise<ModelMetadata> {
  const raw: unknown = JSON.parse(await readFile(join(dir, 'metadata.json'), 'utf8'));
  const parsed = modelMetadataSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`invalid ${join(dir, 'metadata.json')}: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** Values in one input image (H × W × C). */
export function inputSizeOf(metadata: ModelMetadata): number {
  return metadata.inputShape.reduce((a, b) => a * b, 1);
}

/** What every served form of a model says about itself, read from its metadata. */
export abstract class DescribedModel {
  constructor(readonly metadata: ModelMetadata) {}

  get name(): string {
    return this.metadata.name;
  }

  get version(): string {
    return this.metadata.version;
  }

  get labels(): readonly string[] {
    return this.metadata.labels;
  }

  /** Values in one input image (H × W × 3). */
  get inputSize(): number {
    return inputSizeOf(this.metadata);
  }
}
