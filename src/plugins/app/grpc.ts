/**
 * The Open Inference Protocol over gRPC on GRPC_PORT (0: off), beside the HTTP port, in the
 * same process and over the same dataplane, with the standard health service
 * (grpc.health.v1.Health: "" is the server's readiness, a model's name that model's) and server
 * reflection (grpcurl lists and describes the services without a local .proto). It listens
 * once the app is ready and drains with it: calls in flight finish, new ones are refused,
 * within SHUTDOWN_TIMEOUT_MS.
 */
import { join } from 'node:path';
import { loadPackageDefinition, Server, ServerCredentials, type ServiceDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as HEALTH_PROTO } from 'grpc-health-check';
import fp from 'fastify-plugin';
import type { Config } from '../../config.js';
import { GRPC_LOADER_OPTIONS } from '../../protocols/open-inference/grpc-tensors.js';
import { grpcInferenceService, serverReady } from '../../protocols/open-inference/grpc-service.js';

/** How often health statuses are brought up to date with the repository (Watch streams see changes within it). */
const HEALTH_REFRESH_MS = 250;

const PROTO = join(import.meta.dirname, '..', '..', '..', 'specs', 'open-inference-protocol', 'open_inference_grpc.proto');

declare module 'fastify' {
  interface FastifyInstance {
    /** The gRPC port once listening (null: GRPC_PORT=0). */
    grpcPort: () => number | null;
  }
}

export default fp<{ config: Config; name: string; version: string }>(
  async (app, { config, name, version }) => {
    let port: number | null = null;
    app.decorate('grpcPort', () => port);
    if (config.GRPC_PORT === 0) return;
    const packages = loadSync([PROTO, HEALTH_PROTO], GRPC_LOADER_OPTIONS);
    const definition = loadPackageDefinition(packages) as unknown as { inference: { GRPCInferenceService: { service: ServiceDefinition } } };
    // A request may carry a batch's bytes (MAX_BATCH_UPLOAD_BYTES), raw, plus its fields.
    const server = new Server({ 'grpc.max_receive_message_length': config.MAX_BATCH_UPLOAD_BYTES + 64 * 1024 });
    server.addService(
      definition.inference.GRPCInferenceService.service,
      grpcInferenceService({
        dataplane: app.dataplane,
        repository: app.models.repository,
        apiKeys: app.apiKeys,
        shuttingDown: () => app.lifecycle.shuttingDown,
        server: { name, version, extensions: [] },
        maxBatch: config.MAX_BATCH_FILES,
        record: (rpc, code, seconds, prediction) => app.metrics.recordRequest('POST', rpc, code, seconds, prediction, 'grpc'),
      }),
    );
    const repo = app.models.repository;
    const health = new HealthImplementation({ '': 'NOT_SERVING' });
    health.addToServer(server);
    new ReflectionService(packages).addToServer(server);
    const refreshHealth = (): void => {
      health.setStatus('', serverReady(repo, app.lifecycle.shuttingDown) ? 'SERVING' : 'NOT_SERVING');
      for (const m of repo.list()) health.setStatus(m.name, !app.lifecycle.shuttingDown && repo.isReady(m.name) ? 'SERVING' : 'NOT_SERVING');
    };
    const refresher = setInterval(refreshHealth, HEALTH_REFRESH_MS).unref();
    app.addHook('onReady', async () => {
      refreshHealth();
      // Models load after start: their statuses are set as soon as the first load settles.
      void app.models.settled().then(refreshHealth);
      port = await new Promise<number>((resolve, reject) =>
        server.bindAsync(`${config.HOST}:${config.GRPC_PORT}`, ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
      );
      app.log.info({ port }, 'gRPC server listening');
    });
    app.addHook('onClose', async () => {
      clearInterval(refresher);
      // Health watchers see the server go before its calls drain.
      for (const service of ['', ...repo.list().map((m) => m.name)]) health.setStatus(service, 'NOT_SERVING');
      if (port === null) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, config.SHUTDOWN_TIMEOUT_MS);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    });
  },
  { name: 'grpc', dependencies: ['models', 'auth', 'lifecycle', 'dataplane', 'metrics'] },
);
