import rateLimit, { type RateLimitPluginOptions } from '@fastify/rate-limit';
import fp from 'fastify-plugin';
import type { Config } from '../../config.js';
import { ProblemError } from '../../http/problems.js';
import { MemoryRateCounter, RateLimit, RedisRateCounter, windowMs } from '../../serving/rate-counter.js';

const PROBES = new Set(['/health', '/ready', '/v2/health/live', '/v2/health/ready']);

declare module 'fastify' {
  interface FastifyInstance {
    /** The limit every protocol counts its calls against (null: RATE_LIMIT_MAX=0). */
    callLimit: RateLimit | null;
  }
}

/**
 * Requests per RATE_LIMIT_WINDOW per API key, or per client IP when the request has no valid
 * key. With REDIS_URL the counters live in Redis so replicas share them; if Redis fails the
 * request goes through (skipOnError) rather than failing. Probes are never limited. gRPC calls
 * spend the same budget (app.callLimit).
 */
export default fp<{ config: Config }>(
  async (app, { config }) => {
    if (config.RATE_LIMIT_MAX === 0) {
      app.decorate('callLimit', null);
      return;
    }
    // The Redis client is loaded only where REDIS_URL is set.
    const redis = config.REDIS_URL ? await import('../../cache/redis-cache.js').then((m) => m.redisClient(config.REDIS_URL!, config.REDIS_TIMEOUT_MS)) : undefined;
    redis?.on('error', () => {});
    const counter = redis ? new RedisRateCounter(redis, `${config.REDIS_KEY_PREFIX}rate-limit:`) : new MemoryRateCounter();
    const limit = new RateLimit(counter, config.RATE_LIMIT_MAX, windowMs(config.RATE_LIMIT_WINDOW));
    app.decorate('callLimit', limit);
    const options: RateLimitPluginOptions = {
      max: limit.max,
      timeWindow: limit.windowMs,
      store: limit.fastifyStore() as unknown as NonNullable<RateLimitPluginOptions['store']>,
      skipOnError: true,
      allowList: (request) => PROBES.has(request.url.split('?')[0]!),
      keyGenerator: (request) => {
        // Runs before route-level authentication: only a valid key earns its own bucket.
        const id = app.identifyKey(request);
        return id ? `key:${id}` : `ip:${request.ip}`;
      },
      errorResponseBuilder: (_request, context) =>
        new ProblemError(429, 'rate-limited', limit.message(), {
          'retry-after': String(Math.max(1, Math.ceil(context.ttl / 1000))),
        }),
    };
    await app.register(rateLimit, options);
    app.addHook('onClose', async () => {
      redis?.disconnect(false);
    });
  },
  { name: 'rate-limit', dependencies: ['auth'] },
);
