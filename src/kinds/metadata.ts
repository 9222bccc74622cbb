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
