/**
 * A text model's vocabulary file (`{"terms": [...], "idf": [...]}`): one term and its inverse
 * document frequency per model input, in input order. Read once when a version loads, and
 * refused with the reason when it is not what the metadata declares.
 */
import { createHash } from 'node:crypto';
import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The largest vocabulary file read. */
const MAX_VOCABULARY_BYTES = 64 * 1024 * 1024;

/**
 * The file's shape, checked by hand: a schema library takes about 60 ms over a 20,000-term
 * vocabulary, on the path every text model's load (and the server's start) waits on.
 */
function checkVocabularyFile(raw: unknown): { terms: string[]; idf: number[] } | string {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'not an object with terms and idf';
  const { terms, idf } = raw as { terms?: unknown; idf?: unknown };
  if (!Array.isArray(terms)) return 'terms is not an array';
  if (!Array.isArray(idf)) return 'idf is not an array';
  for (let i = 0; i < terms.length; i++) {
    const t: unknown = terms[i];
    if (typeof t !== 'string' || t.length < 1 || t.length > 1000) return `terms[${i}] is not a string of 1 to 1000 characters`;
  }
  for (let i = 0; i < idf.length; i++) {
    const v: unknown = idf[i];
    if (typeof v !== 'number' || !(v > 0 && v <= 1e6)) return `idf[${i}] is not a number above 0 and at most 1e6`;
  }
  return { terms: terms as string[], idf: idf as number[] };
}

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
  const checked = checkVocabularyFile(raw);
  if (typeof checked === 'string') throw new Error(`invalid vocabulary ${file}: ${checked}`);
  const { terms, idf } = checked;
  if (terms.length !== size || idf.length !== size) throw new Error(`the vocabulary ${file} holds ${terms.length} terms and ${idf.length} idf values; metadata.json declares ${size} features`);
  const vocabulary = vocabularyOf(terms, idf);
  if (vocabulary.index.size !== terms.length) throw new Error(`the vocabulary ${file} repeats terms`);
  return vocabulary;
}
