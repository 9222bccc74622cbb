import fp from 'fastify-plugin';
import { MemoryCache } from '../../cache/memory-cache.js';
import type { CacheEvents, PredictionCache } from '../../cache/prediction-cache.js';
import type { Config } from '../../config.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The prediction cache, or null when CACHE_MAX_ENTRIES or CACHE_TTL_S is 0. */
    predictionCache: PredictionCache | null;
  }
}

/** Log a failing cache at most this often; the error counter has every one. */
const WARN_EVERY_MS = 10_000;

/** The prediction cache: embedded LRU by default, Redis when REDIS_URL is set (its client loaded only then). */
async function createPredictionCache(
  config: Pick<Config, 'CACHE_MAX_ENTRIES' | 'CACHE_TTL_S' | 'REDIS_URL' | 'REDIS_KEY_PREFIX' | 'REDIS_TIMEOUT_MS'>,
  events: CacheEvents = {},
): Promise<PredictionCache | null> {
  if (config.CACHE_MAX_ENTRIES === 0 || config.CACHE_TTL_S === 0) return null;
  if (config.REDIS_URL) {
    const { RedisCache } = await import('../../cache/redis-cache.js');
    return new RedisCache(
      { url: config.REDIS_URL, keyPrefix: config.REDIS_KEY_PREFIX, ttlSeconds: config.CACHE_TTL_S, timeoutMs: config.REDIS_TIMEOUT_MS },
      events,
    );
  }
  return new MemoryCache(config.CACHE_MAX_ENTRIES, config.CACHE_TTL_S);
}

export default fp<{ config: Config }>(
  async (app, { config }) => {
    let lastWarning = -Infinity;
    const cache = await createPredictionCache(config, {
      onError: (operation, err) => {
        app.metrics.recordCacheError('redis', operation);
        if (performance.now() - lastWarning < WARN_EVERY_MS) return;
        lastWarning = performance.now();
        app.log.warn({ cache: 'redis', operation, err: err.message }, 'prediction cache unavailable; serving without it');
      },
      onConnectionChange: (connected) => {
        if (connected) app.log.info({ cache: 'redis' }, 'prediction cache connected');
        else app.log.warn({ cache: 'redis' }, 'prediction cache disconnected; serving without it while reconnecting');
      },
    });
    app.decorate('predictionCache', cache);
    app.addHook('onClose', async () => {
      await cache?.close();
    });
  },
  { name: 'prediction-cache', dependencies: ['metrics'] },
);
