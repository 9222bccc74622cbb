import fp from 'fastify-plugin';
import { ModelRegistry } from '../../inference/registry.js';
import type { InstanceOptions } from '../../inference/served-model.js';

export interface ModelsOptions {
  modelDirs: string[];
  instances: InstanceOptions;
}

declare module 'fastify' {
  interface FastifyInstance {
    models: ModelRegistry;
    /** Active TF.js backend, null until it is initialised. */
    backendName: string | null;
  }
}

/**
 * The model registry. Models load after the server starts listening, so /health answers
 * and /ready says "loading" meanwhile; they are disposed when the server closes.
 */
export default fp<ModelsOptions>(
  async (app, opts) => {
    const registry = new ModelRegistry();
    app.decorate('models', registry);
    app.decorate('backendName', null);
    app.addHook('onReady', async () => {
      registry
        .load(opts.modelDirs, opts.instances, {
          onBatch: (model, e) => app.metrics.recordBatch(model, e.size, e.queueSeconds, e.computeSeconds),
          onInstanceDeath: (model, instance, reason) => app.log.error({ model, instance, reason }, 'inference instance died; replacing it'),
          onInstanceRestart: (model, instance) => {
            app.metrics.recordInstanceRestart(model);
            app.log.warn({ model, instance }, 'inference instance replaced');
          },
        })
        .then(
          () => {
            const main = registry.get();
            app.backendName = main?.backend ?? null;
            if (main) {
              app.metrics.setModel({ name: main.name, version: main.version, backend: main.backend, loadSeconds: main.loadSeconds, labels: main.labels });
            }
            app.log.info(
              { models: registry.list().map((m) => ({ name: m.name, version: m.version, load_s: m.loadSeconds, instances: m.instances })), backend: app.backendName },
              'models ready',
            );
          },
          (err: unknown) => app.log.error({ err }, 'model loading failed'),
        );
    });
    app.addHook('onClose', async () => {
      await registry.settled();
      await registry.dispose();
    });
  },
  { name: 'models', dependencies: ['lifecycle', 'metrics'] },
);
