/** A @grpc/grpc-js client of the Open Inference Protocol's gRPC service, made from the official .proto. */
import { join } from 'node:path';
import { credentials, loadPackageDefinition, type Client, type Metadata, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { GRPC_LOADER_OPTIONS } from '../../src/protocols/open-inference/grpc-tensors.js';
import { ROOT } from './app.js';

export type Unary = (request: object, metadata: Metadata, callback: (err: ServiceError | null, response: Record<string, unknown>) => void) => void;
export type InferenceClient = Client & Record<string, Unary>;

const { inference } = loadPackageDefinition(loadSync(join(ROOT, 'specs', 'open-inference-protocol', 'open_inference_grpc.proto'), GRPC_LOADER_OPTIONS)) as unknown as {
  inference: { GRPCInferenceService: new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => InferenceClient };
};

/** A client of `inference.GRPCInferenceService` at 127.0.0.1:`port`, without TLS. */
export function inferenceClient(port: number | null): InferenceClient {
  return new inference.GRPCInferenceService(`127.0.0.1:${port}`, credentials.createInsecure());
}
