/**
 * The demo page (/demo): static files served with @fastify/static under the service's strict
 * Content-Security-Policy (same-origin script and style files, no inline code). Browsers that
 * ask GET / for HTML are sent here (routes/service.ts).
 */
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';

/** public/demo, from src/routes or dist/routes alike. */
const DEMO_ROOT = join(import.meta.dirname, '..', '..', 'public', 'demo');

const demoRoutes: FastifyPluginAsync = async (app) => {
  await app.register(fastifyStatic, { root: DEMO_ROOT, prefix: '/demo/', index: ['index.html'], decorateReply: false, cacheControl: true, maxAge: '5m' });
  app.get('/demo', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/demo/'));
};

export default demoRoutes;
