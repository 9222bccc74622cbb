/** A Fastify request's body as the kinds read it: multipart files, a raw body, JSON, or none. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { NativeBody, UploadedFile } from '../kinds/kind.js';
import { ProblemError } from '../http/problems.js';
import { multipartFiles } from '../http/multipart.js';
import { MultipartBody } from '../plugins/external/multipart.js';
import { invalidInput } from '../serving/errors.js';

/** Multipart parser failures that carry no HTTP status are framing errors: the client's fault. */
function framingError(err: unknown): unknown {
  if (err instanceof ProblemError) return err;
  const status = (err as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) return err;
  return invalidInput('malformed-multipart', `the multipart body is malformed: ${err instanceof Error ? err.message : String(err)}`);
}

/** The body's files as the kind asks for them; framing errors become 400 malformed-multipart. */
async function* formFiles(body: MultipartBody): AsyncGenerator<UploadedFile> {
  const files = multipartFiles(body.bytes, body.contentType, body.limits);
  for (;;) {
    let next: IteratorResult<UploadedFile>;
    try {
      next = files.next();
    } catch (err) {
      throw framingError(err);
    }
    if (next.done) return;
    yield next.value;
  }
}

export function nativeBody(request: FastifyRequest): NativeBody {
  const body: unknown = request.body;
  if (body instanceof MultipartBody) return { type: 'multipart', files: () => formFiles(body) };
  if (Buffer.isBuffer(body)) return { type: 'raw', bytes: body, contentType: request.headers['content-type'] ?? 'application/octet-stream' };
  if (body === undefined || body === null) return { type: 'none' };
  return { type: 'json', value: body };
}

/**
 * text/plain and message/rfc822 bodies, kept as bytes for the model's kind to read (a text
 * model decodes them; other kinds refuse them with 415). Only in the native routes' scope.
 */
export function acceptTextBodies(app: FastifyInstance): void {
  const raw = (_req: FastifyRequest, body: Buffer | string, done: (err: Error | null, body?: unknown) => void): void => done(null, body);
  app.addContentTypeParser('text/plain', { parseAs: 'buffer' }, raw);
  app.addContentTypeParser('message/rfc822', { parseAs: 'buffer' }, raw);
}
