import { describe, expect, it } from 'vitest';
import { MemoryRateCounter, RateLimit, windowMs, type RateCounter } from '../../src/serving/rate-counter.js';

describe('rate limits shared by every protocol', () => {
  it('reads RATE_LIMIT_WINDOW as a number of ms or "<n> <unit>[s]", and says it back', () => {
    expect(windowMs('1 minute')).toBe(60_000);
    expect(windowMs('2 hours')).toBe(7_200_000);
    expect(windowMs('250')).toBe(250);
    expect(windowMs('30seconds')).toBe(30_000);
    expect(() => windowMs('soon')).toThrow(RangeError);
    const counter = new MemoryRateCounter();
    expect(new RateLimit(counter, 600, 60_000).message()).toBe('more than 600 requests in 1 minute; retry later');
    expect(new RateLimit(counter, 5, 7_200_000).message()).toBe('more than 5 requests in 2 hours; retry later');
    expect(new RateLimit(counter, 5, 1500).message()).toBe('more than 5 requests in 1500 ms; retry later');
  });

  it('counts each caller in its own window and tells when to retry', async () => {
    const limit = new RateLimit(new MemoryRateCounter(), 2, 60_000);
    expect(await limit.check('key:a')).toBeNull();
    expect(await limit.check('key:a')).toBeNull();
    expect(await limit.check('key:b')).toBeNull();
    const retry = await limit.check('key:a');
    expect(retry).toBeGreaterThanOrEqual(59);
    expect(retry).toBeLessThanOrEqual(60);
  });

  it('keeps at most maxKeys callers, forgetting the oldest', async () => {
    const counter = new MemoryRateCounter(2);
    await counter.hit('a', 60_000);
    await counter.hit('a', 60_000);
    await counter.hit('b', 60_000);
    await counter.hit('c', 60_000);
    expect((await counter.hit('a', 60_000)).current).toBe(1);
  });

  it('lets calls through when its store fails', async () => {
    const broken: RateCounter = { hit: () => Promise.reject(new Error('redis is down')) };
    expect(await new RateLimit(broken, 0, 1000).check('key:a')).toBeNull();
  });
});
