/** The embedded cache: an LRU bounded by entry count, entries expiring after a TTL. */
import { LRUCache } from 'lru-cache';
import type { CachedPrediction, PredictionCache } from './prediction-cache.js';

export class MemoryCache implements PredictionCache {
  readonly kind = 'memory';
  private readonly lru: LRUCache<string, CachedPrediction>;

  constructor(maxEntries: number, ttlSeconds: number) {
    this.lru = new LRUCache({ max: maxEntries, ttl: ttlSeconds * 1000 });
  }

  get size(): number {
    return this.lru.size;
  }

  async get(key: string): Promise<CachedPrediction | undefined> {
    return this.lru.get(key);
  }

  async set(key: string, value: CachedPrediction): Promise<void> {
    this.lru.set(key, value);
  }

  async close(): Promise<void> {
    this.lru.clear();
  }
}
