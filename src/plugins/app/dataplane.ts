import fp from 'fastify-plugin';
import type { Config } from '../../config.js';
import { Dataplane } from '../../serving/dataplane.js';

declare module 'fastify' {
  interface FastifyInstance {
    dataplane: Dataplane;
  }
}

/** The dataplane every protocol reaches models through, with the cache, traffic router and metrics of this app. */
export default fp<{ config: Config }>(
  async (app, { config }) => {
    app.decorate(
      'dataplane',
      new Dataplane({
        repository: app.models.repository,
        traffic: app.models.traffic,
        cache: app.predictionCache,
        metrics: app.metrics,
        maxBatch: config.MAX_BATCH_SIZE,
        explainConcurrency: config.EXPLAIN_CONCURRENCY,
      }),
    );
  },
  { name: 'dataplane', dependencies: ['models', 'metrics', 'prediction-cache'] },
);
