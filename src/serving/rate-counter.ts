/**
 * Fixed-window request counters shared by every protocol: one budget per caller (an API key,
 * or a client address), whether it calls over REST or gRPC. In memory for one replica, or in
 * Redis (REDIS_URL) so that replicas share them; the Redis counter is the same INCR + PEXPIRE
 * script that @fastify/rate-limit's own Redis store runs.
 */
import type { Redis } from 'ioredis';

export interface Hit {
  /** Calls in the current window, this one included. */
  current: number;
  /** Milliseconds until the window ends. */
  ttlMs: number;
}

export interface RateCounter {
  /** Count one call of `key` in a window of `windowMs`. Rejects when the store fails (callers let the call through). */
  hit(key: string, windowMs: number): Promise<Hit>;
}

const UNITS_MS: Record<string, number> = { ms: 1, millisecond: 1, second: 1000, minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/** RATE_LIMIT_WINDOW in ms: a number of ms, or "<n> <unit>[s]" (ms, millisecond, second, minute, hour, day). */
export function windowMs(setting: string): number {
  const match = /^(\d+)(?:\s*(ms|millisecond|second|minute|hour|day)s?)?$/.exec(setting.trim());
  if (!match) throw new RangeError(`not a time window: '${setting}'`);
  return Number(match[1]) * UNITS_MS[match[2] ?? 'ms']!;
}

/** Counters of one process, at most `maxKeys` callers at once (the oldest window is forgotten first). */
export class MemoryRateCounter implements RateCounter {
  private readonly windows = new Map<string, { count: number; endsAt: number }>();

  constructor(private readonly maxKeys = 10_000) {}

  hit(key: string, windowMs: number): Promise<Hit> {
    const now = Date.now();
    let window = this.windows.get(key);
    if (!window || window.endsAt <= now) {
      this.windows.delete(key);
      if (this.windows.size >= this.maxKeys) this.windows.delete(this.windows.keys().next().value!);
      window = { count: 0, endsAt: now + windowMs };
      this.windows.set(key, window);
    }
    window.count++;
    return Promise.resolve({ current: window.count, ttlMs: window.endsAt - now });
  }
}

const HIT_SCRIPT = `
local current = redis.call('INCR', KEYS[1])
local ttl = tonumber(ARGV[1])
if current == 1 then
  redis.call('PEXPIRE', KEYS[1], ttl)
else
  ttl = redis.call('PTTL', KEYS[1])
end
return {current, ttl}
`;

type WithHit = Redis & { rateCounterHit(key: string, windowMs: number): Promise<[number, number]> };

/** Counters in Redis under `prefix` + key, shared by every replica that uses the same Redis and prefix. */
export class RedisRateCounter implements RateCounter {
  private readonly redis: WithHit;

  constructor(
    redis: Redis,
    private readonly prefix: string,
  ) {
    if (!('rateCounterHit' in redis)) redis.defineCommand('rateCounterHit', { numberOfKeys: 1, lua: HIT_SCRIPT });
    this.redis = redis as WithHit;
  }

  async hit(key: string, windowMs: number): Promise<Hit> {
    const [current, ttl] = await this.redis.rateCounterHit(this.prefix + key, windowMs);
    return { current, ttlMs: Math.max(0, ttl) };
  }
}

/** A limit over a counter: whether one more call of `key` is allowed, and when to retry if not. */
export class RateLimit {
  constructor(
    private readonly counter: RateCounter,
    readonly max: number,
    readonly windowMs: number,
  ) {}

  /** What a refused caller is told: "more than 600 requests in 1 minute; retry later". */
  message(): string {
    const [unit, ms] = Object.entries(UNITS_MS)
      .filter(([u]) => u !== 'millisecond')
      .reverse()
      .find(([, ms]) => this.windowMs % ms === 0) ?? ['ms', 1];
    const n = this.windowMs / ms;
    return `more than ${this.max} requests in ${n} ${unit}${n === 1 || unit === 'ms' ? '' : 's'}; retry later`;
  }

  /** Count a call: null if allowed (or the store failed: the call goes through), else seconds until a retry can succeed. */
  async check(key: string): Promise<number | null> {
    let hit: Hit;
    try {
      hit = await this.counter.hit(key, this.windowMs);
    } catch {
      return null;
    }
    return hit.current > this.max ? Math.max(1, Math.ceil(hit.ttlMs / 1000)) : null;
  }

  /** The counter as @fastify/rate-limit's store (its `store` option), so REST calls spend the same budget. */
  fastifyStore(): new () => { incr: (key: string, cb: (err: Error | null, result?: { current: number; ttl: number }) => void) => void; child: () => unknown } {
    const { counter, windowMs: ms } = this;
    return class {
      incr(key: string, cb: (err: Error | null, result?: { current: number; ttl: number }) => void): void {
        counter.hit(key, ms).then(
          (hit) => cb(null, { current: hit.current, ttl: hit.ttlMs }),
          (err: unknown) => cb(err instanceof Error ? err : new Error(String(err))),
        );
      }

      child(): unknown {
        return this;
      }
    };
  }
}
