/**
 * A text model's vocabulary file (`{"terms": [...], "idf": [...]}`): one term and its inverse
 * document frequency per model input, in input order. Read once when a version loads, and
 * refused with the reason when it is not what the metadata declares.
 */
import { createHash } from 'node:crypto';
import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

/** The largest vocabulary file read. */
const MAX_VOCABULARY_BYTES = 64 * 1024 * 1024;

const vocabularyFileSchema = z.object({
  terms: z.array(z.string().min(1).max(1000)),
  idf: z.array(z.number().positive().max(1e6)),
});

export interface Vocabulary {
  terms: readonly string[];
  idf: Float64Array;
  index: ReadonlyMap<string, number>;
  /** SHA-256 of the terms and idf values: two versions with the same digest weigh texts alike. */
  digest: string;
}

export function vocabularyOf(terms: readonly string[], idf: ArrayLike<number>): Vocabulary {
  const values = Float64Array.from(idf);
  const digest = createHash('sha256').update(JSON.stringify(terms)).update(new Uint8Array(values.buffer)).digest('hex');
  return { terms, idf: values, index: new Map(terms.map((t, i) => [t, i])), digest };
}

/** Read and check `dir/file`: a regular file, at most MAX_VOCABULARY_BYTES, `size` unique terms each with an idf. */
export async function readVocabulary(dir: string, file: string, size: number): Promise<Vocabulary> {
  const path = join(dir, file);
  const info = await lstat(path).catch(() => undefined);
  if (!info?.isFile()) throw new Error(`the vocabulary ${file} named by metadata.json is not a file in the version folder`);
  if (info.size > MAX_VOCABULARY_BYTES) throw new Error(`the vocabulary ${file} is ${info.size} bytes; the limit is ${MAX_VOCABULARY_BYTES}`);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new Error(`the vocabulary ${file} is not JSON: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const parsed = vocabularyFileSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`invalid vocabulary ${file}: ${z.prettifyError(parsed.error).replace(/\n\s*/g, ' ')}`);
  const { terms, idf } = parsed.data;
  if (terms.length !== size || idf.length !== size) throw new Error(`the vocabulary ${file} holds ${terms.length} terms and ${idf.length} idf values; metadata.json declares ${size} features`);
  const vocabulary = vocabularyOf(terms, idf);
  if (vocabulary.index.size !== terms.length) throw new Error(`the vocabulary ${file} repeats terms`);
  return vocabulary;
}
