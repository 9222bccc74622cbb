/**
 * The shared cache: Redis through ioredis. Redis is an optimisation, never a dependency: a
 * command that fails or takes longer than the timeout is a miss, commands are not queued while
 * the connection is down, and ioredis reconnects by itself in the background.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { parseCached, type CacheEvents, type CachedPrediction, type PredictionCache } from './prediction-cache.js';

export interface RedisCacheOptions {
  url: string;
  /** Prepended to every key, so several services can share one Redis. */
  keyPrefix: string;
  ttlSeconds: number;
  /** Longest a cache command may take before the request goes on without it. */
  timeoutMs: number;
}

/**
 * ioredis settings for Redis as an optional helper: commands time out after `timeoutMs`,
 * fail at once (no offline queue, no retries) while disconnected, and the client keeps
 * reconnecting in the background, at most every 2 s.
 */
export function failFastRedisOptions(timeoutMs: number): RedisOptions {
  return {
    commandTimeout: timeoutMs,
    connectTimeout: Math.max(1000, timeoutMs),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (attempt: number) => Math.min(attempt * 100, 2000),
  };
}

/** A client with failFastRedisOptions, for a helper other than the cache (rate-limit counters). */
export function redisClient(url: string, timeoutMs: number): Redis {
  return new Redis(url, failFastRedisOptions(timeoutMs));
}

export class RedisCache implements PredictionCache {
  readonly kind = 'redis';
  private readonly redis: Redis;
  private connected = false;

  constructor(
    private readonly opts: RedisCacheOptions,
    private readonly events: CacheEvents = {},
  ) {
    this.redis = new Redis(opts.url, { ...failFastRedisOptions(opts.timeoutMs), keyPrefix: opts.keyPrefix });
    this.redis.on('ready', () => this.setConnected(true));
    this.redis.on('close', () => this.setConnected(false));
    // Without a listener ioredis would raise connection errors as unhandled events.
    this.redis.on('error', () => {});
  }

  /** True while commands can be sent. */
  get isConnected(): boolean {
    return this.connected;
  }

  async get(key: string): Promise<CachedPrediction | undefined> {
    try {
      const raw = await this.redis.get(key);
      return raw === null ? undefined : parseCached(JSON.parse(raw));
    } catch (err) {
      this.events.onError?.('get', asError(err));
      return undefined;
    }
  }

  async set(key: string, value: CachedPrediction): Promise<void> {
    try {
      await this.redis.set(key, JSON.stringify(value), 'EX', this.opts.ttlSeconds);
    } catch (err) {
      this.events.onError?.('set', asError(err));
    }
  }

  async close(): Promise<void> {
    this.redis.disconnect(false);
  }

  private setConnected(connected: boolean): void {
    if (connected === this.connected) return;
    this.connected = connected;
    this.events.onConnectionChange?.(connected);
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
