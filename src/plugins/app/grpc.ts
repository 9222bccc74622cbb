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
import { addGuardedService, reflectionDefinition } from '../../protocols/open-inference/grpc-reflection.js';
import { grpcInferenceService, serverReady } from '../../protocols/open-inference/grpc-service.js';
import shedding from '../external/under-pressure.js';

/** How often health statuses are brought up to date with the repository (Watch streams see changes within it). */
const HEALTH_REFRESH_MS = 250;

const ROOT = join(import.meta.dirname, '..', '..', '..');
/** The protocol's official .proto, and the repository extension's (Triton's messages, MLServer's service name). */
const PROTOS = [join(ROOT, 'specs', 'open-inference-protocol', 'open_inference_grpc.proto'), join(ROOT, 'proto', 'model_repository.proto')];

type Definitions = {
  inference: { GRPCInferenceService: { service: ServiceDefinition }; model_repository: { ModelRepositoryService: { service: ServiceDefinition } } };
};

/** The repository RPCs under `service`'s name too: Triton serves them on inference.GRPCInferenceService, where tritonclient.grpc calls them. */
export function renamed(definition: ServiceDefinition, service: string): ServiceDefinition {
  return Object.fromEntries(Object.entries(definition).map(([rpc, method]) => [rpc, { ...method, path: `/${service}/${rpc}` }]));
}

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
    const packages = loadSync([...PROTOS, HEALTH_PROTO], GRPC_LOADER_OPTIONS);
    const { inference } = loadPackageDefinition(packages) as unknown as Definitions;
    // Load shedding with REST's limits: an encapsulated scope, so that no route is shed by it.
    let underPressure = (): boolean => false;
    await app.register(async (scope) => {
      await scope.register(shedding, { config });
      underPressure = () => scope.isUnderPressure();
    });
    // A request may carry a batch's bytes (MAX_BATCH_UPLOAD_BYTES), raw, plus its fields.
    const server = new Server({ 'grpc.max_receive_message_length': config.MAX_BATCH_UPLOAD_BYTES + 64 * 1024 });
    const handlers = grpcInferenceService({
      dataplane: app.dataplane,
      repository: app.models.repository,
      apiKeys: app.apiKeys,
      adminKeys: app.adminKeys,
      rateLimit: app.callLimit,
      underPressure: () => underPressure(),
      predictionStarted: () => app.models.predictionStarted(),
      shuttingDown: () => app.lifecycle.shuttingDown,
      hostsRunning: () => app.models.hostsRunning(),
      refusing: () => app.lifecycle.refusing,
      server: { name, version, extensions: ['model_repository'] },
      maxBatch: config.MAX_BATCH_FILES,
      record: (rpc, code, seconds, prediction) => app.metrics.recordRequest('POST', rpc, code, seconds, prediction, 'grpc'),
    });
    const repositoryService = inference.model_repository.ModelRepositoryService.service;
    server.addService({ ...inference.GRPCInferenceService.service, ...renamed(repositoryService, 'inference.GRPCInferenceService') }, handlers.inference);
    server.addService(repositoryService, handlers.repository);
    const repo = app.models.repository;
    const health = new HealthImplementation({ '': 'NOT_SERVING' });
    health.addToServer(server);
    // Descriptors as protoc writes them: Go tools (grpcurl, buf curl) refuse proto-loader's map entries.
    const reflection = new ReflectionService(reflectionDefinition(packages));
    addGuardedService(server, (registry) => reflection.addToServer(registry as unknown as Server));
    const refreshHealth = (): void => {
      health.setStatus('', serverReady(repo, app.lifecycle.shuttingDown, app.models.hostsRunning()) ? 'SERVING' : 'NOT_SERVING');
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
  { name: 'grpc', dependencies: ['models', 'auth', 'rate-limit', 'lifecycle', 'dataplane', 'metrics'] },
);
