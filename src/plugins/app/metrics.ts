import fp from 'fastify-plugin';
import { ServiceMetrics } from '../../metrics/service-metrics.js';

declare module 'fastify' {
  interface FastifyInstance {
    metrics: ServiceMetrics;
  }
}

const PREDICTION_ROUTES = new Set(['/predict', '/predict/batch']);

/**
 * Prometheus metrics for the whole app: HTTP requests by route template and status, recorded
 * when each response is sent; the inference queue read from the model registry at scrape time.
 */
export default fp(
  async (app) => {
    // The registry is read at scrape time; the models plugin registers after this one.
    const metrics = new ServiceMetrics({
      queued: () => app.models.list().reduce((n, m) => n + m.stats().queued, 0),
      inFlightBatches: () => app.models.list().reduce((n, m) => n + m.stats().inFlightBatches, 0),
    });
    app.decorate('metrics', metrics);
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      metrics.recordRequest(request.method, route, reply.statusCode, reply.elapsedTime / 1000, PREDICTION_ROUTES.has(route));
    });
  },
  { name: 'metrics' },
);
