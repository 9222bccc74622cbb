import fp from 'fastify-plugin';
import type { Config } from '../../config.js';
import { configureImageDecoding } from '../../preprocessing/image.js';
import { createPredictor, type Predictor } from '../../serving/predictor.js';
import { createTabularPredictor, type TabularPredictor } from '../../serving/tabular.js';

declare module 'fastify' {
  interface FastifyInstance {
    predictor: Predictor;
    tabularPredictor: TabularPredictor;
  }
}

/** The prediction use cases (images, tabular rows), with the cache and metrics of this app. */
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
  },
  { name: 'predictor', dependencies: ['metrics', 'prediction-cache'] },
);
