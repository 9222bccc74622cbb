/**
 * Every error a client can see, in one place: the ProblemError type the domain throws, the
 * mapping of domain, scheduler and framework errors to a status and slug, and the RFC 9457
 * body the one error handler sends.
 */
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { ExecutorCrashedError, QueueFullError, SchedulerClosedError } from '../inference/scheduler.js';
import { ImageError, type ImageErrorCode } from '../preprocessing/image.js';
import { FeatureInputError } from '../kinds/tabular/request.js';
import { TensorError } from '../protocols/open-inference/tensors.js';
import { InvalidModelRefError, ModelUnavailableError, UnknownModelError, UnknownVersionError } from '../repository/errors.js';

export class ProblemError extends Error {
  readonly title: string;

  constructor(
    readonly status: number,
    readonly slug: string,
    detail: string,
    readonly headers: Record<string, string> = {},
    /** Extension members of the problem body (RFC 9457 §3.2), e.g. `errors`. */
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(detail);
    this.name = 'ProblemError';
    this.title = STATUS_CODES[status] ?? 'Error';
  }

  get type(): string {
    return problemType(this.slug);
  }
}

export function problemType(slug: string): string {
  return `urn:ml-inference-api:problem:${slug}`;
}

export const badRequest = (slug: string, detail: string): ProblemError => new ProblemError(400, slug, detail);
export const notFound = (slug: string, detail: string): ProblemError => new ProblemError(404, slug, detail);
export const tooLarge = (detail: string): ProblemError => new ProblemError(413, 'payload-too-large', detail);
export const unavailable = (detail: string, retryAfterS = 1, slug = 'not-ready'): ProblemError =>
  new ProblemError(503, slug, detail, { 'retry-after': String(retryAfterS) });

const IMAGE_STATUS: Record<ImageErrorCode, [number, string]> = {
  empty: [400, 'empty-image'],
  not_an_image: [400, 'not-an-image'],
  unsupported_format: [415, 'unsupported-image'],
  too_many_pixels: [422, 'image-too-large'],
  undecodable: [422, 'undecodable-image'],
};

/** The client problem a domain error is, or undefined for anything else (a real bug). */
function domainProblem(err: unknown): ProblemError | undefined {
  if (err instanceof ProblemError) return err;
  if (err instanceof ImageError) {
    const [status, slug] = IMAGE_STATUS[err.code];
    return new ProblemError(status, slug, err.message);
  }
  if (err instanceof QueueFullError) return new ProblemError(503, 'overloaded', `${err.message}; retry shortly`, { 'retry-after': '1' });
  if (err instanceof ExecutorCrashedError) {
    return new ProblemError(503, 'instance-crashed', 'the model instance stopped while running this request; retry', { 'retry-after': '1' });
  }
  if (err instanceof SchedulerClosedError) return new ProblemError(503, 'shutting-down', 'the server is shutting down', { 'retry-after': '5' });
  if (err instanceof InvalidModelRefError) return badRequest(err.what === 'name' ? 'invalid-model-name' : 'invalid-version', err.message);
  if (err instanceof UnknownModelError) return notFound('unknown-model', err.message);
  if (err instanceof UnknownVersionError) return notFound('unknown-version', err.message);
  if (err instanceof ModelUnavailableError) return unavailable(err.message, err.retryAfterS);
  if (err instanceof FeatureInputError) return new ProblemError(422, 'invalid-features', err.message, {}, { errors: err.errors });
  if (err instanceof TensorError) return badRequest('invalid-tensor', err.message);
  return undefined;
}

/** Map anything thrown while handling one input to a client problem, or rethrow a real bug. */
export function toClientProblem(err: unknown): ProblemError {
  const problem = domainProblem(err);
  if (!problem) throw err;
  return problem;
}

/** The limits that framework errors are explained with. */
export interface RequestLimits {
  maxUploadBytes: number;
  maxBatchFiles: number;
  maxFormFields: number;
}

/** Content types the JSON and upload routes accept, for 415 answers. */
export const ACCEPTED_CONTENT_TYPES = 'multipart/form-data, application/json, image/* or application/octet-stream';

export interface RenderedProblem {
  status: number;
  slug: string;
  title?: string;
  detail: string;
  headers?: Record<string, string>;
  extensions?: Record<string, unknown>;
}

/** Framework errors explained in the project's words, with the limit or accepted set. */
function frameworkProblem(code: string, request: FastifyRequest, limits: RequestLimits): RenderedProblem | undefined {
  switch (code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        status: 415,
        slug: 'unsupported-media-type',
        detail: `Content-Type '${request.headers['content-type'] ?? ''}' is not accepted here; send ${ACCEPTED_CONTENT_TYPES}`,
      };
    case 'FST_ERR_CTP_BODY_TOO_LARGE': {
      const url = request.routeOptions.url ?? '';
      const setting = url.endsWith('/batch') || url.endsWith('/infer') ? 'MAX_BATCH_UPLOAD_BYTES' : 'MAX_UPLOAD_BYTES';
      return {
        status: 413,
        slug: 'payload-too-large',
        detail: `the request body is larger than ${request.routeOptions.bodyLimit ?? 0} bytes, this route's limit (${setting}, with room for base64 or form encoding)`,
      };
    }
    case 'FST_REQ_FILE_TOO_LARGE':
      return { status: 413, slug: 'payload-too-large', detail: `a file is larger than MAX_UPLOAD_BYTES (${limits.maxUploadBytes} bytes)` };
    case 'FST_FILES_LIMIT':
      return { status: 413, slug: 'payload-too-large', detail: `at most ${limits.maxBatchFiles} files per request (MAX_BATCH_FILES)` };
    case 'FST_PARTS_LIMIT':
      return { status: 413, slug: 'payload-too-large', detail: `at most ${limits.maxBatchFiles} files and ${limits.maxFormFields} form fields per request` };
    case 'FST_FIELDS_LIMIT':
      return { status: 413, slug: 'payload-too-large', detail: `at most ${limits.maxFormFields} form fields per request` };
    default:
      return undefined;
  }
}

const FASTIFY_SLUGS: Record<string, string> = {
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid-body',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid-body',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'invalid-body',
};

/** The problem an error is, or undefined for a server fault. */
export function classifyError(error: FastifyError | Error, request: FastifyRequest, limits: RequestLimits): RenderedProblem | undefined {
  const known = domainProblem(error);
  if (known) return { status: known.status, slug: known.slug, detail: known.message, headers: known.headers, extensions: known.extensions };
  if (hasZodFastifySchemaValidationErrors(error) || ('validation' in error && error.validation)) {
    return { status: 400, slug: 'invalid-request', detail: error.message };
  }
  const status = 'statusCode' in error ? error.statusCode : undefined;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code = 'code' in error ? String(error.code) : '';
    const known = frameworkProblem(code, request, limits);
    if (known) return known;
    const mapped = status === 406 ? 400 : status;
    return { status: mapped, slug: FASTIFY_SLUGS[code] ?? (mapped === 400 ? 'invalid-body' : 'client-error'), detail: error.message };
  }
  return undefined;
}

/** The 500 body: nothing internal is disclosed. */
export const INTERNAL_PROBLEM: RenderedProblem = {
  status: 500,
  slug: 'internal',
  detail: 'an unexpected error occurred; quote the request_id when reporting it',
};

/** Paths of the Open Inference Protocol, whose errors are `{"error": "<message>"}` as it specifies. */
export function isOpenInferencePath(url: string): boolean {
  const path = url.split('?')[0]!;
  return path === '/v2' || path.startsWith('/v2/');
}

/**
 * Send an RFC 9457 problem with the request id; on the Open Inference Protocol's paths, the
 * protocol's error object with the same status, headers and message.
 */
export function sendProblem(request: FastifyRequest, reply: FastifyReply, p: RenderedProblem): FastifyReply {
  const title = p.title ?? STATUS_CODES[p.status] ?? 'Error';
  // Absent only when the app failed before its metrics were set up.
  if (request.server.hasDecorator('metrics')) request.server.metrics.recordError(p.slug, p.status);
  if (isOpenInferencePath(request.url)) {
    return reply
      .code(p.status)
      .headers(p.headers ?? {})
      .type('application/json; charset=utf-8')
      .send(JSON.stringify({ error: p.detail }));
  }
  return reply
    .code(p.status)
    .headers(p.headers ?? {})
    .type('application/problem+json')
    .send({ type: problemType(p.slug), title, status: p.status, detail: p.detail, instance: request.url.split('?')[0], request_id: request.id, ...p.extensions });
}
