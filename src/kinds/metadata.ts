/** metadata.json of any kind: read once, bounded, and parsed by the schema of the kind it names. */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

/** The largest metadata.json read. */
const METADATA_MAX_BYTES = 1024 * 1024;

/** The parsed JSON of `dir/metadata.json`, refused past METADATA_MAX_BYTES. */
export async function readMetadataJson(dir: string): Promise<unknown> {
  const path = join(dir, 'metadata.json');
  const { size } = await stat(path);
  if (size > METADATA_MAX_BYTES) throw new Error(`metadata.json is ${size} bytes; the limit is ${METADATA_MAX_BYTES}`);
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new Error(`invalid metadata.json: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** `raw` through `schema`, or an Error listing every problem on one line. */
export function parseMetadata<T>(schema: z.ZodType<T>, raw: unknown): T {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new Error(`invalid metadata.json: ${z.prettifyError(parsed.error).replace(/\n\s*/g, ' ')}`);
  return parsed.data;
}

/**
 * A classifier's confidence calibration (temperature scaling, src/inference/calibration.ts):
 * the server answers softmax(log p / temperature) instead of the model's p; the most likely
 * class never changes. With the figures it was fitted and judged by.
 */
export const calibrationSchema = z.object({
  temperature: z.number().min(0.05).max(20),
  /** Expected calibration error (15 bins) on held-out data, before and after. */
  eceBefore: z.number().min(0).max(1).optional(),
  eceAfter: z.number().min(0).max(1).optional(),
  /** What the temperature was fitted on, and what the ECE was measured on. */
  fittedOn: z.string().max(500).optional(),
  measuredOn: z.string().max(500).optional(),
});
export type Calibration = z.infer<typeof calibrationSchema>;

/** What a runtime needs of a calibration: its temperature, when there is one. */
export const temperatureOf = (calibration: Calibration | undefined): { temperature?: number } => (calibration ? { temperature: calibration.temperature } : {});
