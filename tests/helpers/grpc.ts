/** A @grpc/grpc-js client of the Open Inference Protocol's gRPC service, made from the official .proto. */
import { join } from 'node:path';
import { credentials, loadPackageDefinition, makeGenericClientConstructor, Metadata, type CallOptions, type Client, type ServiceDefinition, type ServiceError } from '@grpc/grpc-js';
import { renamed } from '../../src/plugins/app/grpc.js';
import { loadSync } from '@grpc/proto-loader';
import { GRPC_LOADER_OPTIONS } from '../../src/protocols/open-inference/grpc-tensors.js';
import { ROOT } from './app.js';

export type Unary = (request: object, metadata: Metadata, options: CallOptions, callback: (err: ServiceError | null, response: Record<string, unknown>) => void) => { cancel(): void };
export type InferenceClient = Client & Record<string, Unary>;

type ClientClass = new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => InferenceClient;
const definitions = loadSync([join(ROOT, 'specs', 'open-inference-protocol', 'open_inference_grpc.proto'), join(ROOT, 'proto', 'model_repository.proto')], GRPC_LOADER_OPTIONS);
const { inference } = loadPackageDefinition(definitions) as unknown as { inference: { GRPCInferenceService: ClientClass; model_repository: { ModelRepositoryService: ClientClass } } };
/** Triton's service: the protocol's RPCs and the repository RPCs on one service name, as tritonclient.grpc calls them. */
const Triton = makeGenericClientConstructor(
  {
    ...(definitions['inference.GRPCInferenceService'] as ServiceDefinition),
    ...renamed(definitions['inference.model_repository.ModelRepositoryService'] as ServiceDefinition, 'inference.GRPCInferenceService'),
  },
  'GRPCInferenceService',
) as unknown as ClientClass;

/** A client of `inference.GRPCInferenceService` at 127.0.0.1:`port`, without TLS. */
export function inferenceClient(port: number | null): InferenceClient {
  return new inference.GRPCInferenceService(`127.0.0.1:${port}`, credentials.createInsecure());
}

/** A client of `inference.GRPCInferenceService` with the repository RPCs too, as Triton's clients have it. */
export function tritonClient(port: number | null): InferenceClient {
  return new Triton(`127.0.0.1:${port}`, credentials.createInsecure());
}

const { grpc: standard } = loadPackageDefinition(loadSync(join(ROOT, 'node_modules', 'grpc-health-check', 'proto', 'health', 'v1', 'health.proto'), GRPC_LOADER_OPTIONS)) as unknown as {
  grpc: { health: { v1: { Health: ClientClass } } };
};

/** A client of the standard `grpc.health.v1.Health` service. */
export function healthClient(port: number | null): InferenceClient {
  return new standard.health.v1.Health(`127.0.0.1:${port}`, credentials.createInsecure());
}

/** A client of `inference.model_repository.ModelRepositoryService` (MLServer's name for the repository RPCs). */
export function repositoryClient(port: number | null): InferenceClient {
  return new inference.model_repository.ModelRepositoryService(`127.0.0.1:${port}`, credentials.createInsecure());
}

/** A promise-returning caller of `client`'s RPCs, with `metadata` (and call options: a deadline) on every call. */
export function caller(client: InferenceClient, metadata: Metadata = new Metadata(), options: CallOptions = {}) {
  return <T = Record<string, unknown>>(rpc: string, message: object): Promise<T> =>
    new Promise((resolve, reject) => client[rpc]!(message, metadata, options, (err, response) => (err ? reject(err) : resolve(response as T))));
}

/** The status, message and trailing metadata a call is refused with (throws if it succeeds). */
export async function refusal(call: Promise<unknown>): Promise<{ code: number; details: string; metadata: Record<string, unknown> }> {
  try {
    await call;
  } catch (err) {
    const e = err as ServiceError;
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, details: e.details, metadata: e.metadata.getMap() };
  }
  throw new Error('the call succeeded');
}

/** Metadata with one API key (authorization: Bearer). */
export function withKey(key: string): Metadata {
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${key}`);
  return metadata;
}
