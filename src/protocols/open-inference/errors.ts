/**
 * The Open Inference Protocol's errors: over REST `{"error": "<message>"}` with an HTTP status,
 * over gRPC a status code with the message, each mapped from the domain's codes here.
 */
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { ErrorCode } from '../../serving/errors.js';
import { countError, nativeStatus, type ErrorProtocol } from '../../http/problems.js';

/** As the native API, except that an input the protocol carried but the model cannot use is a bad request (the body's media type was fine). */
export function v2Status(code: ErrorCode): number {
  switch (code) {
    case 'unsupported-media':
    case 'unprocessable':
      return 400;
    default:
      return nativeStatus(code);
  }
}

export const v2Errors: ErrorProtocol = {
  statusOf: v2Status,
  send(request, reply, p) {
    countError(request, p);
    return reply
      .code(p.status)
      .headers(p.headers ?? {})
      .type('application/json; charset=utf-8')
      .send(JSON.stringify({ error: p.detail }));
  },
};

/**
 * The gRPC status of each domain code: what the client sent is INVALID_ARGUMENT (as the REST
 * side's 400), a limit RESOURCE_EXHAUSTED (gRPC's own answer to an oversize message), work
 * the server cannot take now UNAVAILABLE (with a retry-after hint), as Triton answers; a
 * change that lost to another writer ABORTED (Google's API guide: retry at a higher level).
 */
export function grpcStatus(code: ErrorCode): GrpcStatus {
  switch (code) {
    case 'invalid-input':
    case 'unprocessable':
    case 'unsupported-media':
      return GrpcStatus.INVALID_ARGUMENT;
    case 'too-large':
    case 'exhausted':
      return GrpcStatus.RESOURCE_EXHAUSTED;
    case 'not-found':
      return GrpcStatus.NOT_FOUND;
    case 'unavailable':
    case 'busy':
      return GrpcStatus.UNAVAILABLE;
    case 'conflict':
      return GrpcStatus.ABORTED;
    case 'internal':
      return GrpcStatus.INTERNAL;
  }
}
