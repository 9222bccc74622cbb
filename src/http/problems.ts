/**
 * HTTP errors of every protocol: the ProblemError the HTTP layer throws (authentication, rate
 * limits, load shedding), framework errors explained in the project's words, and the one place
 * where the native API maps the domain's error codes to HTTP statuses and sends RFC 9457
 * problem details. The Open Inference Protocol maps the same codes its own way
 * (protocols/open-inference/errors.ts); which mapping applies comes from the plugin scope the
 * route was registered in.
 */
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { servingError, type ErrorCode } from '../serving/errors.js';
import { annotate } from './request-log.js';
import type { RouteMethods } from './route-methods.js';

/** An error of the HTTP layer itself, with its status. */
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
}

function problemType(slug: string): string {
  return `urn:ml-inference-api:problem:${slug}`;
}

/** The native API's HTTP status of each error code (Triton's HttpCodeFromError, for this server's codes). */
export function nativeStatus(code: ErrorCode): number {
  switch (code) {
    case 'invalid-input':
      return 400;
    case 'not-found':
      return 404;
    case 'too-large':
      return 413;
    case 'unsupported-media':
      return 415;
    case 'unprocessable':
      return 422;
    case 'unavailable':
    case 'busy':
      return 503;
    case 'exhausted':
      return 507;
    case 'conflict':
      return 409;
    case 'internal':
      return 500;
  }
}

/** The limits that framework errors are explained with. */
export interface RequestLimits {
  maxUploadBytes: number;
  maxBatchFiles: number;
  maxFormFields: number;
}

/** Content types the JSON and upload routes accept, for 415 answers. */
const ACCEPTED_CONTENT_TYPES = 'multipart/form-data, application/json, image/* or application/octet-stream (text models: text/plain or message/rfc822)';

export interface RenderedProblem {
  status: number;
  slug: string;
  title?: string;
  detail: string;
  headers?: Record<string, string>;
  extensions?: Record<string, unknown>;
}

/**
 * The Content-Type a request was sent with, where a route reads its body by another one (the
 * Open Inference Protocol's routes read JSON whatever the header says): errors name what the
 * client sent, not what the server made of it.
 */
export const sentContentType = new WeakMap<FastifyRequest['raw'], string>();

/** Framework errors explained in the project's words, with the limit or accepted set. */
function frameworkProblem(code: string, request: FastifyRequest, limits: RequestLimits): RenderedProblem | undefined {
  switch (code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY': {
      const sent = sentContentType.get(request.raw);
      if (sent === undefined) return undefined;
      const form = /^multipart\/form-data/i.test(sent) ? '; multipart uploads are the native API\'s: POST /v1/models/{name}/predict' : '';
      return {
        status: 400,
        slug: 'invalid-body',
        detail: `the body is not valid JSON: this route reads the protocol's JSON (followed by binary data when Inference-Header-Content-Length is sent) whatever the Content-Type, and the request was sent as '${sent || '(none)'}'${form}`,
      };
    }
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        status: 415,
        slug: 'unsupported-media-type',
        detail: `Content-Type '${request.headers['content-type'] ?? ''}' is not accepted here; send ${ACCEPTED_CONTENT_TYPES}`,
      };
    case 'FST_ERR_CTP_BODY_TOO_LARGE': {
      const url = request.routeOptions.url ?? '';
      const setting = url.endsWith('/batch') || url.endsWith('/infer') ? 'MAX_BATCH_UPLOAD_BYTES' : 'MAX_UPLOAD_BYTES';
      // A form is read whole within the route's limit: past it on a one-file route, the file is too large.
      if (setting === 'MAX_UPLOAD_BYTES' && /^multipart\/form-data/i.test(request.headers['content-type'] ?? '')) {
        return { status: 413, slug: 'payload-too-large', detail: `the form is larger than ${request.routeOptions.bodyLimit ?? 0} bytes: a file may be at most MAX_UPLOAD_BYTES (${limits.maxUploadBytes} bytes)` };
      }
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

/** The problem an error is, with domain codes mapped by `statusOf` (the protocol's mapping), or undefined for a server fault. */
function classifyError(error: FastifyError | Error, request: FastifyRequest, limits: RequestLimits, statusOf: (code: ErrorCode) => number): RenderedProblem | undefined {
  const domain = servingError(error);
  if (domain) {
    if (domain.code === 'internal') return undefined;
    const headers: Record<string, string> = domain.retryAfterS !== undefined ? { 'retry-after': String(domain.retryAfterS) } : {};
    return { status: statusOf(domain.code), slug: domain.reason, detail: domain.message, headers, extensions: domain.details };
  }
  if (error instanceof ProblemError) return { status: error.status, slug: error.slug, detail: error.message, headers: error.headers, extensions: error.extensions };
  if (hasZodFastifySchemaValidationErrors(error) || ('validation' in error && error.validation)) {
    // "querystring/ unknown …" for an issue of the whole object: "querystring: unknown …".
    return { status: 400, slug: 'invalid-request', detail: error.message.replace(/^(querystring|body|params|headers)\/ /, '$1: ') };
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

/** No route for the request: 405 with Allow when the path is served under other methods, else 404. */
export function noRoute(request: FastifyRequest, routes: RouteMethods): RenderedProblem {
  const path = request.url.split('?')[0]!;
  const allowed = routes.allowed(path);
  if (allowed.length > 0) {
    return { status: 405, slug: 'method-not-allowed', detail: `${request.method} is not served on ${path}; use ${allowed.join(' or ')}`, headers: { allow: allowed.join(', ') } };
  }
  return { status: 404, slug: 'not-found', detail: `no route ${request.method} ${path}` };
}

/** The 500 body: nothing internal is disclosed. */
const INTERNAL_PROBLEM: RenderedProblem = {
  status: 500,
  slug: 'internal',
  detail: 'an unexpected error occurred; quote the request_id when reporting it',
};

/** How a protocol maps codes and writes an error body. */
export interface ErrorProtocol {
  statusOf(code: ErrorCode): number;
  send(request: FastifyRequest, reply: FastifyReply, p: RenderedProblem): FastifyReply;
}

/** Count the error (absent only when the app failed before its metrics were set up). */
export function countError(request: FastifyRequest, p: RenderedProblem): void {
  if (request.server.hasDecorator('metrics')) request.server.metrics.recordError(p.slug, p.status);
}

/** The native API: RFC 9457 problem details with the request id. */
export const nativeProblems: ErrorProtocol = {
  statusOf: nativeStatus,
  send(request, reply, p) {
    countError(request, p);
    const title = p.title ?? STATUS_CODES[p.status] ?? 'Error';
    return reply
      .code(p.status)
      .headers(p.headers ?? {})
      .type('application/problem+json')
      .send({ type: problemType(p.slug), title, status: p.status, detail: p.detail, instance: request.url.split('?')[0], request_id: request.id, ...p.extensions });
  },
};

/** The one error handler of a protocol's scope: client errors say what was wrong; server faults are logged and answered generically. */
export function errorHandler(protocol: ErrorProtocol, limits: RequestLimits) {
  return (error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const problem = classifyError(error, request, limits, protocol.statusOf);
    if (problem) {
      annotate(request, () => ({ problem: problem.slug, detail: problem.detail }));
      return protocol.send(request, reply, problem);
    }
    request.log.error({ err: error }, 'unhandled error');
    return protocol.send(request, reply, INTERNAL_PROBLEM);
  };
}
