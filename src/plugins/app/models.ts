import fp from 'fastify-plugin';
import { initBackend, type BackendChoice } from '../../inference/backend.js';
import { ModelRegistry } from '../../inference/registry.js';

export interface ModelsOptions {
  modelDirs: string[];
  backend: BackendChoice;
  warmupRuns: number;
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
        .load(opts.modelDirs, opts.warmupRuns, async () => {
          app.backendName = await initBackend(opts.backend);
        })
        .then(
          () => app.log.info({ models: registry.list().map((m) => ({ name: m.name, version: m.version, load_s: m.loadSeconds })), backend: app.backendName }, 'models ready'),
          (err: unknown) => app.log.error({ err }, 'model loading failed'),
        );
    });
    app.addHook('onClose', async () => {
      await registry.settled();
      registry.dispose();
    });
  },
  { name: 'models', dependencies: ['lifecycle'] },
);
