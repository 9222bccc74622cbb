/** The application as a plugin: tests register it with their own config, server.ts with the real one. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Config } from './config.js';
import { errorHandler, nativeProblems, noRoute, ProblemError } from './http/problems.js';
import { requestLog } from './http/request-log.js';
import { RouteMethods } from './http/route-methods.js';
import { KindRegistry } from './kinds/index.js';
import type { InstancePool } from './inference/pool.js';
import type { ModelKind } from './kinds/kind.js';
import { ServingError } from './serving/errors.js';
import lifecycle from './plugins/app/lifecycle.js';
import auth from './plugins/app/auth.js';
import cache from './plugins/app/cache.js';
import metrics from './plugins/app/metrics.js';
import models from './plugins/app/models.js';
import dataplane from './plugins/app/dataplane.js';
import multipart, { MAX_FORM_FIELDS } from './plugins/external/multipart.js';
import rateLimit from './plugins/external/rate-limit.js';
import security from './plugins/external/security.js';
import swagger from './plugins/external/swagger.js';
import metricsRoutes from './routes/metrics.js';
import predictRoutes from './routes/predict/index.js';
import explainRoutes from './routes/explain.js';
import demoRoutes from './routes/demo.js';
import modelRoutes from './routes/models.js';
import openInferenceRoutes from './routes/open-inference.js';
import grpc from './plugins/app/grpc.js';
import serviceRoutes from './routes/service.js';
import { readApiKeys } from './auth/api-keys.js';
import { readPackageInfo } from './version.js';

export interface AppOptions {
  config: Config;
  /** Model kinds served beside the built-in ones (a deployment's own, or a test's). */
  kinds?: readonly ModelKind[];
  /** The inference pool, started by the process while the app's code loaded (else the app starts it). */
  pool?: Promise<InstancePool>;
}

export default async function app(fastify: FastifyInstance, { config, kinds = [], pool }: AppOptions): Promise<void> {
  const registry = KindRegistry.with(kinds);
  const pkg = readPackageInfo();
  fastify.setValidatorCompiler(validatorCompiler);
  fastify.setSerializerCompiler(serializerCompiler);

  const rawBody = (_req: FastifyRequest, body: Buffer | string, done: (err: Error | null, body?: unknown) => void): void => done(null, body);
  // Only JSON, multipart and image bodies are accepted; text/plain is answered with 415.
  fastify.removeContentTypeParser('text/plain');
  fastify.addContentTypeParser(/^image\/[\w.+-]+$/, { parseAs: 'buffer' }, rawBody);
  fastify.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, rawBody);

  requestLog(fastify);
  // Hooks on every request take callbacks: an async hook costs a promise per request.
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    if (fastify.lifecycle.refusing && request.url !== '/health') {
      reply.header('connection', 'close');
      // Answered by the error handler of the route's protocol scope.
      return done(new ServingError('unavailable', 'shutting-down', 'the server is shutting down', { retryAfterS: 5 }));
    }
    // A compressed body would reach the parsers undecoded, and its size limits would count the
    // compressed bytes: only identity is taken.
    const encoding = request.headers['content-encoding'];
    if (encoding !== undefined && !/^\s*identity\s*$/i.test(encoding)) {
      return done(new ProblemError(415, 'unsupported-content-encoding', `Content-Encoding '${encoding}' is not accepted: send the body uncompressed (identity)`));
    }
    done();
  });

  // While shutting down, every response closes its connection, so keep-alive clients cannot
  // hold the server open after their in-flight request is answered.
  fastify.addHook('onSend', (_request, reply, payload, done) => {
    if (fastify.lifecycle.shuttingDown) reply.header('connection', 'close');
    done(null, payload);
  });

  const limits = { maxUploadBytes: config.MAX_UPLOAD_BYTES, maxBatchFiles: config.MAX_BATCH_FILES, maxFormFields: MAX_FORM_FIELDS };
  fastify.setErrorHandler(errorHandler(nativeProblems, limits));
  // Every route, for the 405 of a path that exists under another method.
  const routes = new RouteMethods();
  fastify.addHook('onRoute', (route) => routes.add(route.method, route.url ?? route.path));
  fastify.setNotFoundHandler((request, reply) => nativeProblems.send(request, reply, noRoute(request, routes)));

  await fastify.register(security, { config });
  await fastify.register(auth, { keys: readApiKeys(config.API_KEYS, config.API_KEYS_FILE), adminKeys: readApiKeys(config.ADMIN_API_KEYS, undefined) });
  await fastify.register(rateLimit, { config });
  await fastify.register(multipart, { config });
  await fastify.register(swagger, { version: pkg.version, enableUi: config.DOCS_ENABLED, bodies: registry.requestBodies() });
  await fastify.register(lifecycle);
  await fastify.register(metrics);
  await fastify.register(models, { config, kinds: registry, ...(pool && { pool }) });
  await fastify.register(cache, { config });
  await fastify.register(dataplane, { config });
  await fastify.register(serviceRoutes, { name: pkg.name, version: pkg.version, docs: config.DOCS_ENABLED, demo: config.DEMO_ENABLED });
  if (config.DEMO_ENABLED) await fastify.register(demoRoutes);
  await fastify.register(predictRoutes, { config });
  await fastify.register(explainRoutes, { config });
  await fastify.register(modelRoutes, { version: pkg.version });
  await fastify.register(openInferenceRoutes, { prefix: '/v2', config, name: pkg.name, version: pkg.version, limits, routes });
  await fastify.register(grpc, { config, name: pkg.name, version: pkg.version });
  await fastify.register(metricsRoutes, { protect: !config.METRICS_PUBLIC });
}
