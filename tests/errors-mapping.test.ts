/**
 * Each protocol maps every domain error code to its wire form in one place: the native API to
 * an RFC 9457 problem, the Open Inference Protocol to {"error"} over REST and a status over gRPC. Two scopes of a bare Fastify
 * app, each with its protocol's error handler, throw a ServingError of every code.
 */
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorHandler, nativeProblems, nativeStatus } from '../src/http/problems.js';
import { status } from '@grpc/grpc-js';
import { grpcStatus, v2Errors, v2Status } from '../src/protocols/open-inference/errors.js';
import { toServiceError } from '../src/protocols/open-inference/grpc-service.js';
import { ERROR_CODES, ServingError, type ErrorCode } from '../src/serving/errors.js';

const NATIVE: Record<ErrorCode, number> = {
  'invalid-input': 400,
  unprocessable: 422,
  'unsupported-media': 415,
  'too-large': 413,
  'not-found': 404,
  unavailable: 503,
  busy: 503,
  exhausted: 507,
  conflict: 409,
  internal: 500,
};
const V2: Record<ErrorCode, number> = { ...NATIVE, unprocessable: 400, 'unsupported-media': 400 };
const GRPC: Record<ErrorCode, status> = {
  'invalid-input': status.INVALID_ARGUMENT,
  unprocessable: status.INVALID_ARGUMENT,
  'unsupported-media': status.INVALID_ARGUMENT,
  'too-large': status.RESOURCE_EXHAUSTED,
  'not-found': status.NOT_FOUND,
  unavailable: status.UNAVAILABLE,
  busy: status.UNAVAILABLE,
  exhausted: status.RESOURCE_EXHAUSTED,
  conflict: status.ABORTED,
  internal: status.INTERNAL,
};

describe('error codes to each protocol', () => {
  const app = Fastify({ logger: false });
  const limits = { maxUploadBytes: 1, maxBatchFiles: 1, maxFormFields: 1 };
  const fail = (code: ErrorCode): never => {
    throw new ServingError(code, `reason-${code}`, `message of ${code}`, { ...((code === 'busy' || code === 'unavailable') && { retryAfterS: 3 }), details: { errors: [{ feature: 'f', message: 'm' }] } });
  };

  beforeAll(async () => {
    await app.register(async (scope) => {
      scope.setErrorHandler(errorHandler(nativeProblems, limits));
      scope.get('/native/:code', async (request) => fail((request.params as { code: ErrorCode }).code));
    });
    await app.register(async (scope) => {
      scope.setErrorHandler(errorHandler(v2Errors, limits));
      scope.get('/v2/:code', async (request) => fail((request.params as { code: ErrorCode }).code));
    });
    await app.ready();
  });
  afterAll(() => app.close());

  it('maps every code in one switch per protocol', () => {
    for (const code of ERROR_CODES) {
      expect(nativeStatus(code)).toBe(NATIVE[code]);
      expect(v2Status(code)).toBe(V2[code]);
      expect(grpcStatus(code)).toBe(GRPC[code]);
    }
  });

  it('over gRPC: the status, the message, and retry-after in trailing metadata', () => {
    for (const code of ERROR_CODES) {
      const retry = code === 'busy' || code === 'unavailable';
      const error = toServiceError(new ServingError(code, `reason-${code}`, `message of ${code}`, retry ? { retryAfterS: 3 } : {}));
      expect(error).toMatchObject({ code: GRPC[code], details: `message of ${code}` });
      expect(error.metadata?.get('retry-after')).toEqual(retry ? ['3'] : []);
    }
    // A bug is not disclosed.
    expect(toServiceError(new TypeError('secret'))).toEqual({ code: status.INTERNAL, details: 'internal error' });
  });

  for (const code of ERROR_CODES) {
    it(`${code}: problem+json natively, {"error"} on /v2, with the same message and Retry-After`, async () => {
      const native = await app.inject(`/native/${code}`);
      expect(native.statusCode).toBe(NATIVE[code]);
      expect(native.headers['content-type']).toMatch(/^application\/problem\+json/);
      const v2 = await app.inject(`/v2/${code}`);
      expect(v2.statusCode).toBe(V2[code]);
      expect(v2.headers['content-type']).toMatch(/^application\/json/);
      if (code === 'internal') {
        // A fault of the server discloses nothing.
        expect(native.json()).toMatchObject({ type: 'urn:ml-inference-api:problem:internal', detail: 'an unexpected error occurred; quote the request_id when reporting it' });
        expect(v2.json()).toEqual({ error: 'an unexpected error occurred; quote the request_id when reporting it' });
        return;
      }
      expect(native.json()).toEqual({
        type: `urn:ml-inference-api:problem:reason-${code}`,
        title: expect.any(String),
        status: NATIVE[code],
        detail: `message of ${code}`,
        instance: `/native/${code}`,
        request_id: expect.any(String),
        errors: [{ feature: 'f', message: 'm' }],
      });
      expect(v2.json()).toEqual({ error: `message of ${code}` });
      const retry = code === 'busy' || code === 'unavailable' ? '3' : undefined;
      expect(native.headers['retry-after']).toBe(retry);
      expect(v2.headers['retry-after']).toBe(retry);
    });
  }
});
