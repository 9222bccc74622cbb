import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { SECURITY } from '../plugins/app/auth.js';
import { metricsSummarySchema } from '../schemas/metrics.js';
import { problemResponses } from '../schemas/problem.js';

/** Prometheus asks for text (or OpenMetrics); JSON goes to those who name it before any text type. */
function wantsJson(accept: string | undefined): boolean {
  if (!accept) return false;
  const json = accept.indexOf('application/json');
  if (json === -1) return false;
  const text = accept.search(/text\/plain|application\/openmetrics-text/);
  return text === -1 || json < text;
}

/** GET /metrics: Prometheus exposition, or a JSON summary for `Accept: application/json`. */
const metricsRoutes: FastifyPluginAsyncZod<{ protect: boolean }> = async (app, { protect }) => {
  const guarded = protect && app.apiKeys.enabled;
  app.get(
    '/metrics',
    {
      ...(guarded ? { onRequest: app.authenticate } : {}),
      schema: {
        ...(guarded ? { security: SECURITY } : {}),
        tags: ['service'],
        summary: 'Prometheus metrics (text exposition format), or a JSON summary with Accept: application/json',
        produces: ['text/plain', 'application/json'],
        response: {
          ...(guarded ? problemResponses(401) : {}),
          200: {
            content: {
              'text/plain': { schema: z.string().describe('Prometheus text exposition format 0.0.4') },
              'application/json': { schema: metricsSummarySchema },
            },
          },
        },
      },
    },
    async (request, reply) => {
      if (wantsJson(request.headers.accept)) return reply.type('application/json').send(await app.metrics.summary());
      return reply.type(app.metrics.contentType).send(await app.metrics.exposition());
    },
  );
};

export default metricsRoutes;
