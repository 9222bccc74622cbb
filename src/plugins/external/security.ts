import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import fp from 'fastify-plugin';
import type { Config } from '../../config.js';

/**
 * Security headers (helmet, with its strict default Content-Security-Policy, under which
 * Swagger UI runs: it loads only same-origin scripts) and CORS for CORS_ORIGINS only.
 */
export default fp<{ config: Config }>(
  async (app, { config }) => {
    await app.register(helmet, {
      // The API serves JSON to other origins' scripts when CORS allows it.
      crossOriginResourcePolicy: { policy: 'same-site' },
      contentSecurityPolicy: {
        directives: {
          // Served over plain HTTP inside clusters and on laptops (TLS ends at the ingress):
          // upgrading /docs' script requests to https would break Swagger UI there.
          upgradeInsecureRequests: null,
        },
      },
    });
    const origins = config.CORS_ORIGINS.split(',').map((o) => o.trim()).filter(Boolean);
    if (origins.length > 0) {
      await app.register(cors, {
        origin: origins.includes('*') ? '*' : origins,
        methods: ['GET', 'POST', 'OPTIONS'],
        allowedHeaders: ['Authorization', 'X-API-Key', 'Content-Type', 'X-Request-Id'],
        exposedHeaders: ['X-Request-Id', 'X-Cache', 'X-Cache-Hits', 'Retry-After', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'],
        maxAge: 600,
      });
    }
  },
  { name: 'security' },
);
