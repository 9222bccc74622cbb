/** metadata.json of any kind: read once, bounded, and parsed by the schema its `kind` names. */
import { z } from 'zod';
import { modelMetadataSchema, readMetadataJson, type ModelMetadata } from '../inference/metadata.js';
import { tabularMetadataSchema, type TabularMetadata } from './tabular/metadata.js';

export type AnyMetadata = ModelMetadata | TabularMetadata;

export const KINDS = ['image-classifier', 'tabular-classifier', 'tabular-regressor'] as const;

export function isTabular(m: AnyMetadata): m is TabularMetadata {
  return m.kind === 'tabular-classifier' || m.kind === 'tabular-regressor';
}

/** Read and validate `dir/metadata.json`, whatever its kind (no `kind`: an image classifier). */
export async function readAnyMetadata(dir: string): Promise<AnyMetadata> {
  const raw = await readMetadataJson(dir);
  const kind = (raw as { kind?: unknown } | null)?.kind ?? 'image-classifier';
  if (typeof kind !== 'string' || !(KINDS as readonly string[]).includes(kind)) {
    throw new Error(`invalid metadata.json: unknown kind ${JSON.stringify(kind)}; one of ${KINDS.join(', ')}`);
  }
  const schema = kind === 'image-classifier' ? modelMetadataSchema : tabularMetadataSchema;
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new Error(`invalid metadata.json: ${z.prettifyError(parsed.error).replace(/\n\s*/g, ' ')}`);
  return parsed.data;
}
