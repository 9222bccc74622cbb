import rateLimit, { type RateLimitPluginOptions } from '@fastify/rate-limit';
import fp from 'fastify-plugin';
import { Redis } from 'ioredis';
import { failFastRedisOptions } from '../../cache/redis-cache.js';
import type { Config } from '../../config.js';
import { ProblemError } from '../../http/problems.js';

const PROBES = new Set(['/health', '/ready', '/v2/health/live', '/v2/health/ready']);

/**
 * Requests per RATE_LIMIT_WINDOW per API key, or per client IP when the request has no valid
 * key. With REDIS_URL the counters live in Redis so replicas share them; if Redis fails the
 * request goes through (skipOnError) rather than failing. Probes are never limited.
 */
export default fp<{ config: Config }>(
  async (app, { config }) => {
    if (config.RATE_LIMIT_MAX === 0) return;
    const redis = config.REDIS_URL ? new Redis(config.REDIS_URL, failFastRedisOptions(config.REDIS_TIMEOUT_MS)) : undefined;
    redis?.on('error', () => {});
    const options: RateLimitPluginOptions = {
      max: config.RATE_LIMIT_MAX,
      timeWindow: /^\d+$/.test(config.RATE_LIMIT_WINDOW) ? Number(config.RATE_LIMIT_WINDOW) : config.RATE_LIMIT_WINDOW,
      allowList: (request) => PROBES.has(request.url.split('?')[0]!),
      keyGenerator: (request) => {
        // Runs before route-level authentication: only a valid key earns its own bucket.
        const id = app.identifyKey(request);
        return id ? `key:${id}` : `ip:${request.ip}`;
      },
      ...(redis ? { redis, nameSpace: `${config.REDIS_KEY_PREFIX}rate-limit:`, skipOnError: true } : {}),
      errorResponseBuilder: (_request, context) =>
        new ProblemError(429, 'rate-limited', `more than ${context.max} requests in ${context.after}; retry later`, {
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
