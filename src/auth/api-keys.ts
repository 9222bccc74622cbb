/**
 * API keys: the configured keys are kept only as SHA-256 digests, and a presented key is
 * compared against every one of them in constant time, so neither timing nor an early exit
 * tells how much of a key was right.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** Shorter keys are refused at start: they can be guessed. */
const MIN_KEY_LENGTH = 16;

function digest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** Keys from a comma-separated list and/or a file with one key per line (`#` comments). */
export function readApiKeys(list: string | undefined, file: string | undefined): string[] {
  const fromList = (list ?? '').split(',');
  const fromFile = file ? readFileSync(file, 'utf8').split(/\r?\n/).filter((l) => !l.trimStart().startsWith('#')) : [];
  const keys = [...fromList, ...fromFile].map((k) => k.trim()).filter((k) => k.length > 0);
  const short = keys.filter((k) => k.length < MIN_KEY_LENGTH);
  if (short.length > 0) throw new RangeError(`${short.length} API key(s) shorter than ${MIN_KEY_LENGTH} characters`);
  return [...new Set(keys)];
}

export class ApiKeys {
  private readonly digests: Buffer[];

  constructor(keys: readonly string[]) {
    this.digests = keys.map(digest);
  }

  get enabled(): boolean {
    return this.digests.length > 0;
  }

  /** A short stable id of the matching key (for rate limits and logs), or null. */
  identify(presented: string | undefined): string | null {
    if (!presented) return null;
    const candidate = digest(presented);
    let match: Buffer | null = null;
    for (const d of this.digests) {
      if (timingSafeEqual(d, candidate) && match === null) match = d;
    }
    return match ? match.subarray(0, 6).toString('hex') : null;
  }
}

/** The key of a request: `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
export function presentedKey(headers: Record<string, string | string[] | undefined>): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  const key = headers['x-api-key'];
  return typeof key === 'string' && key.length > 0 ? key : undefined;
}
