/**
 * The Open Inference Protocol's gRPC service (`inference.GRPCInferenceService` of
 * specs/open-inference-protocol/open_inference_grpc.proto) over the same dataplane as REST:
 * the same repository leases, traffic policy, cache, batching and tensor checks. Fastify-free;
 * the app plugin (plugins/app/grpc.ts) binds it to GRPC_PORT.
 */
import { Metadata, status as GrpcStatus, type sendUnaryData, type ServerUnaryCall, type ServiceError, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { presentedKey, type ApiKeys } from '../../auth/api-keys.js';
import { RequestAbortedError } from '../../inference/scheduler.js';
import type { ServedVersion } from '../../inference/served-version.js';
import type { ModelRepository } from '../../repository/repository.js';
import type { Dataplane } from '../../serving/dataplane.js';
import type { RateLimit } from '../../serving/rate-counter.js';
import { asServingError, ServingError, servingError } from '../../serving/errors.js';
import { grpcStatus } from './errors.js';
import { encodeGrpcInferResponse, parseGrpcInferRequest, type GrpcInferRequest } from './grpc-tensors.js';
import { inferTensors, modelTensors } from './models.js';
import { loadModel, refuseParameters, repositoryIndex, unloadModel } from './repository.js';

export interface GrpcServiceDeps {
  dataplane: Dataplane;
  repository: ModelRepository<ServedVersion>;
  apiKeys: ApiKeys;
  /** ADMIN_API_KEYS: the repository RPCs need one (none configured: they are refused). */
  adminKeys: ApiKeys;
  /** Calls per window per caller, the budget REST calls spend too (null: no limit). */
  rateLimit: RateLimit | null;
  /** Whether the process is past a load-shedding limit (event loop delay, heap, RSS). */
  underPressure: () => boolean;
  /** A prediction call started; call the returned function once it is answered (shadow copies wait for none). */
  predictionStarted: () => () => void;
  /** Whether shutdown has begun (readiness turns false; calls are still served while draining). */
  shuttingDown: () => boolean;
  /** False while no inference host is running (all died, being restarted). */
  hostsRunning: () => boolean;
  /** Whether draining is over and new work is refused (REST answers 503 then too). */
  refusing: () => boolean;
  server: { name: string; version: string; extensions: readonly string[] };
  /** Inputs one request may hold (MAX_BATCH_FILES). */
  maxBatch: number;
  /** Each call, as HTTP requests are counted: the RPC's path, its gRPC status code, seconds. */
  record: (rpc: string, code: GrpcStatus, seconds: number, prediction: boolean) => void;
}

/** A refusal that is gRPC's own (no domain code): a missing or wrong API key, a rate limit. */
class GrpcRefusal extends Error {
  constructor(
    readonly code: GrpcStatus,
    message: string,
    readonly retryAfterS?: number,
  ) {
    super(message);
  }
}

/** Trailing metadata with the seconds after which a retry may succeed, as REST's Retry-After. */
function retryHint(seconds: number | undefined): Metadata | undefined {
  if (seconds === undefined) return undefined;
  const metadata = new Metadata();
  metadata.set('retry-after', String(seconds));
  return metadata;
}

/** A refusal as gRPC carries it: the status, the message, and a retry hint in trailing metadata. */
export function toServiceError(err: unknown): Partial<ServiceError> {
  if (err instanceof GrpcRefusal) return { code: err.code, details: err.message, ...(err.retryAfterS !== undefined && { metadata: retryHint(err.retryAfterS)! }) };
  // The caller gave up while the call waited: gRPC's own statuses, not a domain error.
  if (err instanceof RequestAbortedError) return { code: err.why === 'deadline' ? GrpcStatus.DEADLINE_EXCEEDED : GrpcStatus.CANCELLED, details: err.message };
  let serving: ServingError;
  try {
    serving = asServingError(err);
  } catch {
    return { code: GrpcStatus.INTERNAL, details: 'internal error' };
  }
  return { code: grpcStatus(serving.code), details: serving.message, metadata: retryHint(serving.retryAfterS) ?? new Metadata() };
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

/**
 * A signal that aborts when the call's deadline passes ('deadline') or the client cancels it
 * ('cancelled'), so that its inputs leave the batcher's queue unrun; `done` stops the timer.
 */
function callSignal(call: ServerUnaryCall<unknown, unknown>): { signal: AbortSignal; done: () => void } {
  const controller = new AbortController();
  const deadline = call.getDeadline();
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  const timer = Number.isFinite(at) ? setTimeout(() => controller.abort('deadline'), Math.max(0, at - Date.now())) : undefined;
  // grpc-js also reports a passed deadline as a cancellation.
  const onCancel = (): void => controller.abort(Date.now() >= at ? 'deadline' : 'cancelled');
  call.once('cancelled', onCancel);
  return {
    signal: controller.signal,
    done: () => {
      clearTimeout(timer);
      call.removeListener('cancelled', onCancel);
    },
  };
}

/** Ready as /v2/health/ready is: not shutting down, the repository's first scan done, an inference host running, every model not unloaded serving. */
export function serverReady(repo: ModelRepository<ServedVersion>, shuttingDown: boolean, hostsRunning: boolean): boolean {
  return !shuttingDown && hostsRunning && repo.startupSettled && repo.list().every((m) => repo.isUnloaded(m.name) || repo.isReady(m.name));
}

/** The caller's address without its port, as REST rate limits key callers without an API key. */
export function peerAddress(peer: string): string {
  return peer
    .replace(/^ipv[46]:/, '')
    .replace(/:\d+$/, '')
    .replace(/^\[(.*)\]$/, '$1');
}

interface IndexRequest {
  repository_name: string;
  ready: boolean;
}
interface ActionRequest {
  repository_name: string;
  model_name: string;
  parameters?: Record<string, unknown>;
}

/**
 * The handlers of `inference.GRPCInferenceService` (the six RPCs of the protocol, and the
 * three repository RPCs that Triton serves on the same service) and of
 * `inference.model_repository.ModelRepositoryService` (the same three, as KServe's MLServer
 * names them).
 */
export function grpcInferenceService(deps: GrpcServiceDeps): { inference: UntypedServiceImplementation; repository: UntypedServiceImplementation } {
  const { repository: repo, dataplane } = deps;
  // The call's API key, looked up once: rate limiting and authentication both ask (as REST's identifyKey).
  const identified = new WeakMap<object, string | null>();
  const identify = (call: ServerUnaryCall<unknown, unknown>): string | null => {
    if (!identified.has(call)) identified.set(call, deps.apiKeys.enabled ? deps.apiKeys.identify(metadataKey(call.metadata)) : null);
    return identified.get(call) ?? null;
  };
  /** Probes are never limited, as over REST; everything else spends the caller's budget. */
  const admit = async (call: ServerUnaryCall<unknown, unknown>): Promise<void> => {
    if (!deps.rateLimit) return;
    const keyId = identify(call);
    const retryAfterS = await deps.rateLimit.check(keyId ? `key:${keyId}` : `ip:${peerAddress(call.getPeer())}`);
    if (retryAfterS !== null) throw new GrpcRefusal(GrpcStatus.RESOURCE_EXHAUSTED, deps.rateLimit.message(), retryAfterS);
  };
  /** A unary handler whose thrown errors become statuses; every call is counted with its status. */
  const unary =
    <Req, Res>(handler: Handler<Req, Res>, limited = true) =>
    (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
      const started = performance.now();
      const rpc = call.getPath();
      const done = (code: GrpcStatus): void => deps.record(rpc, code, (performance.now() - started) / 1000, code === GrpcStatus.OK && rpc.endsWith('/ModelInfer'));
      Promise.resolve()
        .then(() => (limited ? admit(call) : undefined))
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
  const authenticate = (call: ServerUnaryCall<unknown, unknown>): string | null => {
    if (!deps.apiKeys.enabled) return null;
    const id = identify(call);
    if (id === null) throw new GrpcRefusal(GrpcStatus.UNAUTHENTICATED, metadataKey(call.metadata) === undefined ? 'an API key is required (metadata authorization: Bearer <key>, or x-api-key)' : 'the API key is not valid');
    return id;
  };
  /** The repository RPCs need an admin key: none configured or an API key that is not one is PERMISSION_DENIED, none or an unknown one UNAUTHENTICATED. */
  const authenticateAdmin = (metadata: Metadata): void => {
    if (!deps.adminKeys.enabled) throw new GrpcRefusal(GrpcStatus.PERMISSION_DENIED, 'the admin API is disabled: set ADMIN_API_KEYS to enable it');
    const key = metadataKey(metadata);
    if (deps.adminKeys.identify(key) !== null) return;
    if (key !== undefined && deps.apiKeys.identify(key) !== null) throw new GrpcRefusal(GrpcStatus.PERMISSION_DENIED, 'the repository RPCs need an admin API key (ADMIN_API_KEYS)');
    throw new GrpcRefusal(GrpcStatus.UNAUTHENTICATED, key === undefined ? 'an admin API key is required (metadata authorization: Bearer <key>, or x-api-key)' : 'the admin API key is not valid');
  };
  const guard = <Req, Res>(handler: (call: ServerUnaryCall<Req, Res>, keyId: string | null) => Promise<Res> | Res) =>
    unary<Req, Res>((call) => handler(call, authenticate(call)));
  const admin = <Req, Res>(handler: (call: ServerUnaryCall<Req, Res>) => Promise<Res> | Res) =>
    unary<Req, Res>((call) => {
      authenticateAdmin(call.metadata);
      return handler(call);
    });
  const version = (v: string): string | undefined => (v === '' ? undefined : v);

  const repository: UntypedServiceImplementation = {
    RepositoryIndex: admin((call: ServerUnaryCall<IndexRequest, unknown>) => ({
      // proto3 cannot tell an unset `ready` from false: false lists everything, as Triton does.
      models: repositoryIndex(repo, call.request.ready ? true : undefined).map((e) => ({ name: e.name, version: e.version ?? '', state: e.state, reason: e.reason ?? '' })),
    })),
    RepositoryModelLoad: admin(async (call: ServerUnaryCall<ActionRequest, unknown>) => {
      refuseParameters(Object.keys(call.request.parameters ?? {}));
      await loadModel(repo, call.request.model_name);
      return {};
    }),
    RepositoryModelUnload: admin(async (call: ServerUnaryCall<ActionRequest, unknown>) => {
      refuseParameters(Object.keys(call.request.parameters ?? {}));
      await unloadModel(repo, call.request.model_name);
      return {};
    }),
  };

  const inference: UntypedServiceImplementation = {
    ServerLive: unary(() => ({ live: true }), false),
    ServerReady: unary(() => ({ ready: serverReady(repo, deps.shuttingDown(), deps.hostsRunning()) }), false),
    // A known model that cannot serve now is `ready: false` (the message says so, as Triton's does); an unknown one NOT_FOUND.
    ModelReady: unary((call: ServerUnaryCall<{ name: string; version: string }, { ready: boolean }>) => {
      try {
        repo.acquire(call.request.name, version(call.request.version)).release();
        return { ready: true };
      } catch (err) {
        if (servingError(err)?.code === 'unavailable') return { ready: false };
        throw err;
      }
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
      // While draining (readiness already false), calls are still served, as over REST.
      if (deps.refusing()) throw new ServingError('unavailable', 'shutting-down', 'the server is shutting down', { retryAfterS: 5 });
      // Shed as REST sheds /v2 inference: past the event loop delay, heap or RSS limit.
      if (deps.underPressure()) throw new ServingError('busy', 'under-pressure', 'the server is overloaded; retry shortly', { retryAfterS: 2 });
      const request = call.request;
      const parsed = parseGrpcInferRequest(request);
      const clientId = call.metadata.get('x-client-id')[0];
      const clientKey = typeof clientId === 'string' && clientId.length > 0 && clientId.length <= 256 ? `client:${clientId}` : keyId ? `key:${keyId}` : undefined;
      // Unversioned calls follow the model's traffic policy, as over REST.
      const exchange = dataplane.hold({ name: request.model_name, ...(version(request.model_version) !== undefined && { version: request.model_version }), ...(clientKey && { clientKey }) });
      const model = exchange.model;
      const aborted = callSignal(call);
      const answered = deps.predictionStarted();
      try {
        const result = await inferTensors(exchange, parsed, deps.maxBatch, aborted.signal);
        return encodeGrpcInferResponse({ model_name: model.name, model_version: model.version, ...(parsed.id !== undefined && { id: parsed.id }), ...(result.parameters && { parameters: result.parameters }) }, result.outputs);
      } finally {
        aborted.done();
        answered();
        exchange.release();
        setImmediate(() => exchange.sent());
      }
    }),
    ...repository,
  };
  return { inference, repository };
}
