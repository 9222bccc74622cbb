import fp from 'fastify-plugin';
import type { Config } from '../../config.js';
import { configureImageDecoding } from '../../preprocessing/image.js';
import { createPredictor, type Predictor } from '../../serving/predictor.js';
import { createTabularPredictor, type TabularPredictor } from '../../serving/tabular.js';
import { createExplainer, type Explainer } from '../../serving/explainer.js';

declare module 'fastify' {
  interface FastifyInstance {
    predictor: Predictor;
    tabularPredictor: TabularPredictor;
    explainer: Explainer;
  }
}

/** The prediction and explanation use cases (images, tabular rows), with the cache and metrics of this app. */
export default fp<{ config: Config }>(
  async (app, { config }) => {
    configureImageDecoding();
    app.decorate(
      'predictor',
      createPredictor({
        limits: { maxInputPixels: config.MAX_INPUT_PIXELS, maxUploadBytes: config.MAX_UPLOAD_BYTES },
        cache: app.predictionCache,
        metrics: app.metrics,
      }),
    );
    app.decorate('tabularPredictor', createTabularPredictor({ cache: app.predictionCache, metrics: app.metrics }));
    app.decorate(
      'explainer',
      createExplainer({
        limits: { maxInputPixels: config.MAX_INPUT_PIXELS, maxUploadBytes: config.MAX_UPLOAD_BYTES },
        metrics: app.metrics,
        maxBatch: config.MAX_BATCH_SIZE,
        concurrency: config.EXPLAIN_CONCURRENCY,
      }),
    );
  },
  { name: 'predictor', dependencies: ['metrics', 'prediction-cache'] },
);
