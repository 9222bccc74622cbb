import fp from 'fastify-plugin';
import type { Config } from '../../config.js';
import type { MultipartLimits } from '../../http/multipart.js';

/** Non-file form fields a request may carry. */
export const MAX_FORM_FIELDS = 8;

/** Tight limits: a file never exceeds MAX_UPLOAD_BYTES, a request never holds more than MAX_BATCH_FILES. */
export function multipartLimits(config: Config): MultipartLimits {
  return { fileSize: config.MAX_UPLOAD_BYTES, files: config.MAX_BATCH_FILES, fields: MAX_FORM_FIELDS, parts: config.MAX_BATCH_FILES + MAX_FORM_FIELDS, headerPairs: 50 };
}

/** A multipart/form-data body, read whole (within the route's body limit) and parsed when its files are asked for. */
export class MultipartBody {
  constructor(
    readonly bytes: Buffer,
    readonly contentType: string,
    readonly limits: MultipartLimits,
  ) {}
}

/** multipart/form-data bodies, kept as bytes until a kind asks for their files (http/multipart.ts). */
export default fp<{ config: Config }>(
  async (app, { config }) => {
    const limits = multipartLimits(config);
    app.addContentTypeParser('multipart/form-data', { parseAs: 'buffer' }, (request, body, done) => {
      done(null, new MultipartBody(body as Buffer, request.headers['content-type'] ?? '', limits));
    });
  },
  { name: 'multipart' },
);
