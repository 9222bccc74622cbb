import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { unavailable } from '../serving/errors.js';
import { problemResponses } from '../schemas/problem.js';
import { healthSchema, readySchema, serviceInfoSchema } from '../schemas/service.js';

export interface ServiceRoutesOptions {
  name: string;
  version: string;
  docs: boolean;
  /** The demo page is served: browsers asking GET / for HTML go there. */
  demo: boolean;
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
      const { repository, defaultModel } = app.models;
      if (!repository.startupSettled) throw unavailable('the model repository is still loading', 2);
      if (!app.models.hostsRunning()) throw unavailable('no inference host is running; they are being restarted', 2);
      if (!repository.isReady(defaultModel)) {
        const state = repository.list().find((m) => m.name === defaultModel);
        const failed = state?.versions.find((v) => v.state === 'FAILED');
        const why = !state ? 'is not in the repository' : failed ? `has no available version (version ${failed.version} failed: ${failed.reason ?? ''})` : 'has no available version';
        throw unavailable(`the default model '${defaultModel}' ${why}`, state?.versions.some((v) => v.state === 'LOADING') ? 2 : 30);
      }
      return {
        status: 'ready' as const,
        backend: app.models.backend ?? 'none',
        models: repository.available().map((m) => ({ name: m.name, version: m.version, runtime: m.value.runtime, backend: m.value.backend })),
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
    async (request, reply) => {
      // A browser (HTML first in Accept) gets the demo page; API clients get this JSON.
      if (opts.demo && /^text\/html\b/.test(request.headers.accept ?? '')) return reply.redirect('/demo/');
      const { repository, defaultModel } = app.models;
      const model = repository.peek(defaultModel);
      const status = app.lifecycle.shuttingDown
        ? ('shutting_down' as const)
        : !repository.startupSettled
          ? ('loading' as const)
          : model
            ? ('ready' as const)
            : ('failed' as const);
      return {
        name: opts.name,
        version: opts.version,
        backend: app.models.backend,
        status,
        model: model
          ? { name: model.name, version: model.version, labels: [...model.labels], input_shape: [...model.signature.inputShape] }
          : null,
        links: {
          self: '/',
          health: '/health',
          ready: '/ready',
          predict: '/predict',
          batch: '/predict/batch',
          models: '/v1/models',
          metrics: '/metrics',
          open_inference_protocol: '/v2',
          ...(opts.demo ? { demo: '/demo/' } : {}),
          ...(opts.docs ? { docs: '/docs', openapi: '/docs/json' } : {}),
        },
      };
    },
  );
};

export default serviceRoutes;
