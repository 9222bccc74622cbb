import cors from '@fastify/cors';
import fp from 'fastify-plugin';
import helmet, { type HelmetOptions } from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../../config.js';

const HELMET_OPTIONS: HelmetOptions = {
  // The API serves JSON to other origins' scripts when CORS allows it.
  crossOriginResourcePolicy: { policy: 'same-site' },
  contentSecurityPolicy: {
    directives: {
      // Served over plain HTTP inside clusters and on laptops (TLS ends at the ingress):
      // upgrading /docs' script requests to https would break Swagger UI there.
      upgradeInsecureRequests: null,
    },
  },
};

/**
 * The headers helmet's middleware sets, computed once. They depend on nothing in a request,
 * and building the middleware per request (as @fastify/helmet does) parses the whole policy
 * on every one.
 */
export function helmetHeaders(options: HelmetOptions = HELMET_OPTIONS): Record<string, string> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader: (name: string, value: string | number) => void (headers[name] = String(value)),
    removeHeader: (name: string) => void delete headers[name],
  };
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, (err?: unknown) => {
    if (err) throw err;
  });
  return headers;
}

/**
 * Security headers (helmet's, with its strict default Content-Security-Policy, under which
 * Swagger UI runs: it loads only same-origin scripts) and CORS for CORS_ORIGINS only.
 */
export default fp<{ config: Config }>(
  async (app, { config }) => {
    const headers = helmetHeaders();
    app.addHook('onRequest', (_request, reply, done) => {
      reply.headers(headers);
      done();
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
