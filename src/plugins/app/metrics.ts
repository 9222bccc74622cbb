import fp from 'fastify-plugin';
import type { ServedVersion } from '../../inference/served-version.js';
import { ServiceMetrics, type ModelInfo } from '../../metrics/service-metrics.js';

declare module 'fastify' {
  interface FastifyInstance {
    metrics: ServiceMetrics;
  }
  interface FastifyContextConfig {
    /** Set on the routes of a protocol other than the native API (the scope they are registered in). */
    protocol?: 'v2';
  }
}

const PREDICTION_ROUTES = new Set([
  '/predict',
  '/predict/batch',
  '/v1/models/:name/predict',
  '/v1/models/:name/predict/batch',
  '/v1/models/:name/versions/:version/predict',
  '/v1/models/:name/versions/:version/predict/batch',
  '/v2/models/:name/infer',
  '/v2/models/:name/versions/:version/infer',
]);

/**
 * Prometheus metrics for the whole app: HTTP requests by route template and status, recorded
 * when each response is sent; the inference queue read from the model registry at scrape time.
 */
export default fp(
  async (app) => {
    // The registry is read at scrape time; the models plugin registers after this one.
    const served = (): ServedVersion[] => app.models.repository.available().map((a) => a.value);
    const info = (m: ServedVersion): ModelInfo => ({ name: m.name, version: m.version, runtime: m.runtime, backend: m.backend, loadSeconds: m.loadSeconds, labels: m.labels });
    const metrics = new ServiceMetrics({
      queued: () => served().reduce((n, m) => n + m.stats().queued, 0),
      inFlightBatches: () => served().reduce((n, m) => n + m.stats().inFlightBatches, 0),
      inferenceCpuSeconds: () => app.models.pool?.cpuSeconds() ?? Number.NaN,
      models: () => served().map(info),
      defaultModel: () => {
        const m = app.models.repository.peek(app.models.defaultModel);
        return m ? info(m) : null;
      },
    });
    app.decorate('metrics', metrics);
    app.addHook('onResponse', (request, reply, done) => {
      const route = request.routeOptions.url ?? 'unmatched';
      // The protocol scope a route was registered in marks it (routes/open-inference.ts).
      const protocol = request.routeOptions.config.protocol ?? 'native';
      metrics.recordRequest(request.method, route, reply.statusCode, reply.elapsedTime / 1000, PREDICTION_ROUTES.has(route), protocol);
      done();
    });
  },
  { name: 'metrics' },
);
