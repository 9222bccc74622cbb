/**
 * Prediction cache: a model's whole output for one input, keyed by a hash of the input (as its
 * kind identifies it) plus the model's name, version and revision, so a new model version never
 * serves an old answer.
 */
import { createHash } from 'node:crypto';

/** What is stored per input: the model's whole output (any top_k can be cut from it), its kind's note (an image's format) and the warnings found while reading it. */
export interface CachedPrediction {
  output: number[];
  note?: string;
  warnings?: string[];
}

export interface PredictionCache {
  readonly kind: 'memory' | 'redis';
  /** The cached prediction, or undefined on a miss or when the cache cannot answer. */
  get(key: string): Promise<CachedPrediction | undefined>;
  /** Store a prediction; failures are reported through the cache's events, never thrown. */
  set(key: string, value: CachedPrediction): Promise<void>;
  close(): Promise<void>;
}

/** Reports from a cache that had to be bypassed (Redis down or slow). */
export interface CacheEvents {
  onError?: (operation: 'get' | 'set', err: Error) => void;
  onConnectionChange?: (connected: boolean) => void;
}

/**
 * `<name>:<version>[@<revision>]:[<variant>:]<sha256 of the bytes>` (variant: how the bytes are read, e.g. raw pixels). The revision changes with a version's
 * files, so a republished version never answers from the old copy's entries.
 */
export function cacheKey(bytes: Uint8Array, model: { name: string; version: string; revision?: string }, variant?: string): string {
  const digest = createHash('sha256').update(bytes).digest('hex');
  return `${model.name}:${model.version}${model.revision ? `@${model.revision}` : ''}:${variant ? `${variant}:` : ''}${digest}`;
}

/** A cached value must look like a prediction; anything else (another writer, an old format) is a miss. */
export function parseCached(raw: unknown): CachedPrediction | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { output, note, warnings } = raw as Record<string, unknown>;
  if (!Array.isArray(output) || !output.every((p) => typeof p === 'number')) return undefined;
  if (note !== undefined && typeof note !== 'string') return undefined;
  if (warnings !== undefined && !(Array.isArray(warnings) && warnings.every((w) => typeof w === 'string'))) return undefined;
  return { output: output as number[], ...(note !== undefined && { note }), ...(warnings !== undefined && { warnings: warnings as string[] }) };
}
