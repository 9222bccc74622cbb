/**
 * The Open Inference Protocol's gRPC service (`inference.GRPCInferenceService` of
 * specs/open-inference-protocol/open_inference_grpc.proto) over the same dataplane as REST:
 * the same repository leases, traffic policy, cache, batching and tensor checks. Fastify-free;
 * the app plugin (plugins/app/grpc.ts) binds it to GRPC_PORT.
 */
import { Metadata, status as GrpcStatus, type sendUnaryData, type ServerUnaryCall, type ServiceError, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { presentedKey, type ApiKeys } from '../../auth/api-keys.js';
import type { ServedVersion } from '../../inference/served-version.js';
import type { ModelRepository } from '../../repository/repository.js';
import type { Dataplane } from '../../serving/dataplane.js';
import { asServingError, ServingError } from '../../serving/errors.js';
import { grpcStatus } from './errors.js';
import { encodeGrpcInferResponse, parseGrpcInferRequest, type GrpcInferRequest } from './grpc-tensors.js';
import { inferTensors, modelTensors } from './models.js';

export interface GrpcServiceDeps {
  dataplane: Dataplane;
  repository: ModelRepository<ServedVersion>;
  apiKeys: ApiKeys;
  /** Whether the server is refusing work (shutting down). */
  shuttingDown: () => boolean;
  server: { name: string; version: string; extensions: readonly string[] };
  /** Inputs one request may hold (MAX_BATCH_FILES). */
  maxBatch: number;
  /** Each call, as HTTP requests are counted: the RPC's path, its gRPC status code, seconds. */
  record: (rpc: string, code: GrpcStatus, seconds: number, prediction: boolean) => void;
}

/** A refusal that is gRPC's own (no domain code): a missing or wrong API key. */
class GrpcRefusal extends Error {
  constructor(
    readonly code: GrpcStatus,
    message: string,
  ) {
    super(message);
  }
}

/** A refusal as gRPC carries it: the status, the message, and a retry hint in trailing metadata. */
export function toServiceError(err: unknown): Partial<ServiceError> {
  if (err instanceof GrpcRefusal) return { code: err.code, details: err.message };
  let serving: ServingError;
  try {
    serving = asServingError(err);
  } catch {
    return { code: GrpcStatus.INTERNAL, details: 'internal error' };
  }
  const metadata = new Metadata();
  if (serving.retryAfterS !== undefined) metadata.set('retry-after', String(serving.retryAfterS));
  return { code: grpcStatus(serving.code), details: serving.message, metadata };
}

/** The request metadata's API key, as REST reads Authorization: Bearer or X-API-Key. */
function metadataKey(metadata: Metadata): string | undefined {
  const first = (name: string): string | undefined => {
    const v = metadata.get(name)[0];
    return typeof v === 'string' ? v : undefined;
  };
  return presentedKey({ authorization: first('authorization'), 'x-api-key': first('x-api-key') });
}

type Handler<Req, Res> = (call: ServerUnaryCall<Req, Res>) => Promise<Res> | Res;

/** Ready as /v2/health/ready is: not shutting down, the repository's first scan done, every model not unloaded serving. */
export function serverReady(repo: ModelRepository<ServedVersion>, shuttingDown: boolean): boolean {
  return !shuttingDown && repo.startupSettled && repo.list().every((m) => repo.isUnloaded(m.name) || repo.isReady(m.name));
}

export function grpcInferenceService(deps: GrpcServiceDeps): UntypedServiceImplementation {
  const { repository: repo, dataplane } = deps;
  /** A unary handler whose thrown errors become statuses; every call is counted with its status. */
  const unary =
    <Req, Res>(handler: Handler<Req, Res>) =>
    (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
      const started = performance.now();
      const rpc = call.getPath();
      const done = (code: GrpcStatus): void => deps.record(rpc, code, (performance.now() - started) / 1000, code === GrpcStatus.OK && rpc.endsWith('/ModelInfer'));
      Promise.resolve()
        .then(() => handler(call))
        .then(
          (response) => {
            callback(null, response);
            done(GrpcStatus.OK);
          },
          (err: unknown) => {
            const error = toServiceError(err);
            callback(error);
            done(error.code ?? GrpcStatus.UNKNOWN);
          },
        );
    };
  const authenticate = (metadata: Metadata): string | null => {
    if (!deps.apiKeys.enabled) return null;
    const key = metadataKey(metadata);
    const id = deps.apiKeys.identify(key);
    if (id === null) throw new GrpcRefusal(GrpcStatus.UNAUTHENTICATED, key === undefined ? 'an API key is required (metadata authorization: Bearer <key>, or x-api-key)' : 'the API key is not valid');
    return id;
  };
  const guard = <Req, Res>(handler: (call: ServerUnaryCall<Req, Res>, keyId: string | null) => Promise<Res> | Res) =>
    unary<Req, Res>((call) => handler(call, authenticate(call.metadata)));
  const version = (v: string): string | undefined => (v === '' ? undefined : v);

  return {
    ServerLive: unary(() => ({ live: true })),
    ServerReady: unary(() => ({ ready: serverReady(repo, deps.shuttingDown()) })),
    ModelReady: unary((call: ServerUnaryCall<{ name: string; version: string }, { ready: boolean }>) => {
      repo.acquire(call.request.name, version(call.request.version)).release();
      return { ready: true };
    }),
    ServerMetadata: unary(() => ({ ...deps.server, extensions: [...deps.server.extensions] })),
    ModelMetadata: unary((call: ServerUnaryCall<{ name: string; version: string }, unknown>) => {
      const lease = repo.acquire(call.request.name, version(call.request.version));
      try {
        const versions = repo.status(lease.name).versions.filter((v) => v.state === 'AVAILABLE').map((v) => v.version);
        const tensors = modelTensors(lease.value);
        const shape = (t: { name: string; datatype: string; shape: number[] }) => ({ ...t, shape: t.shape.map(String) });
        return { name: lease.name, versions, platform: tensors.platform, inputs: tensors.inputs.map(shape), outputs: tensors.outputs.map(shape), properties: tensors.properties };
      } finally {
        lease.release();
      }
    }),
    ModelInfer: guard(async (call: ServerUnaryCall<GrpcInferRequest, unknown>, keyId) => {
      if (deps.shuttingDown()) throw new ServingError('unavailable', 'shutting-down', 'the server is shutting down', { retryAfterS: 5 });
      const request = call.request;
      const parsed = parseGrpcInferRequest(request);
      const clientId = call.metadata.get('x-client-id')[0];
      const clientKey = typeof clientId === 'string' && clientId.length > 0 && clientId.length <= 256 ? `client:${clientId}` : keyId ? `key:${keyId}` : undefined;
      // Unversioned calls follow the model's traffic policy, as over REST.
      const exchange = dataplane.hold({ name: request.model_name, ...(version(request.model_version) !== undefined && { version: request.model_version }), ...(clientKey && { clientKey }) });
      const model = exchange.model;
      try {
        const result = await inferTensors(exchange, parsed, deps.maxBatch);
        return encodeGrpcInferResponse({ model_name: model.name, model_version: model.version, ...(parsed.id !== undefined && { id: parsed.id }), ...(result.parameters && { parameters: result.parameters }) }, result.outputs);
      } finally {
        exchange.release();
        setImmediate(() => exchange.sent());
      }
    }),
  };
}
