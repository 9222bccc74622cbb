/** The embedded LRU cache and the cache key. */
import { describe, expect, it } from 'vitest';
import { MemoryCache } from '../../src/cache/memory-cache.js';
import { cacheKey, parseCached } from '../../src/cache/prediction-cache.js';

const value = (p: number) => ({ output: [p, 1 - p], note: 'jpeg' });

describe('MemoryCache', () => {
  it('returns what was stored and evicts the least recently used entry past its size', async () => {
    const cache = new MemoryCache(2, 60);
    await cache.set('a', value(0.1));
    await cache.set('b', value(0.2));
    expect(await cache.get('a')).toEqual(value(0.1)); // a is now the most recent
    await cache.set('c', value(0.3));
    expect(await cache.get('b')).toBeUndefined();
    expect(await cache.get('a')).toEqual(value(0.1));
    expect(await cache.get('c')).toEqual(value(0.3));
    expect(cache.size).toBe(2);
  });

  it('forgets entries after their TTL', async () => {
    const cache = new MemoryCache(10, 1);
    await cache.set('a', value(0.5));
    expect(await cache.get('a')).toBeDefined();
    await new Promise((r) => setTimeout(r, 1100));
    expect(await cache.get('a')).toBeUndefined();
  });
});

describe('cacheKey', () => {
  const bytes = new Uint8Array([1, 2, 3]);
  it('depends on the bytes, the model name and the model version', () => {
    const key = cacheKey(bytes, { name: 'cifar10', version: '1.0.0' });
    expect(key).toMatch(/^cifar10:1\.0\.0:[0-9a-f]{64}$/);
    expect(cacheKey(new Uint8Array([1, 2, 3]), { name: 'cifar10', version: '1.0.0' })).toBe(key);
    expect(cacheKey(new Uint8Array([1, 2, 4]), { name: 'cifar10', version: '1.0.0' })).not.toBe(key);
    expect(cacheKey(bytes, { name: 'cifar10', version: '1.0.1' })).not.toBe(key);
    expect(cacheKey(bytes, { name: 'other', version: '1.0.0' })).not.toBe(key);
  });
});

describe('parseCached', () => {
  it('accepts a stored prediction and rejects anything else', () => {
    expect(parseCached(value(0.3))).toEqual(value(0.3));
    expect(parseCached({ output: ['x'], note: 'jpeg' })).toBeUndefined();
    expect(parseCached({ output: [0.1], note: 3 })).toBeUndefined();
    expect(parseCached({ probabilities: [0.1], format: 'jpeg' })).toBeUndefined();
    expect(parseCached('nope')).toBeUndefined();
    expect(parseCached(null)).toBeUndefined();
  });
});
