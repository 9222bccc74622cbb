import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { unavailable } from '../errors.js';
import { problemResponses } from '../schemas/problem.js';
import { healthSchema, readySchema, serviceInfoSchema } from '../schemas/service.js';

export interface ServiceRoutesOptions {
  name: string;
  version: string;
  docs: boolean;
}

/** GET /, /health (liveness) and /ready (readiness). */
const serviceRoutes: FastifyPluginAsyncZod<ServiceRoutesOptions> = async (app, opts) => {
  app.get(
    '/health',
    {
      schema: {
        tags: ['service'],
        summary: 'Liveness: 200 while the process answers, whatever the model state',
        response: { 200: healthSchema },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/ready',
    {
      schema: {
        tags: ['service'],
        summary: 'Readiness: 200 once the model is loaded and warmed and the server is not shutting down',
        response: { 200: readySchema, ...problemResponses(503) },
      },
    },
    async () => {
      if (app.lifecycle.shuttingDown) throw unavailable('the server is shutting down', 5);
      const { state } = app.models;
      if (state === 'loading') throw unavailable('the model is still loading', 2);
      if (state === 'failed') throw unavailable(`the model failed to load: ${app.models.failure ?? 'unknown error'}`, 30);
      return {
        status: 'ready' as const,
        backend: app.backendName ?? 'unknown',
        models: app.models.list().map((m) => ({ name: m.name, version: m.version })),
      };
    },
  );

  app.get(
    '/',
    {
      schema: {
        tags: ['service'],
        summary: 'Service information: version, model, backend and links',
        response: { 200: serviceInfoSchema },
      },
    },
    async () => {
      const model = app.models.get();
      const status = app.lifecycle.shuttingDown ? ('shutting_down' as const) : app.models.state;
      return {
        name: opts.name,
        version: opts.version,
        backend: app.backendName,
        status,
        model: model
          ? { name: model.name, version: model.version, labels: [...model.labels], input_shape: [...model.metadata.inputShape] }
          : null,
        links: {
          self: '/',
          health: '/health',
          ready: '/ready',
          predict: '/predict',
          batch: '/predict/batch',
          metrics: '/metrics',
          ...(opts.docs ? { docs: '/docs', openapi: '/docs/json' } : {}),
        },
      };
    },
  );
};

export default serviceRoutes;
