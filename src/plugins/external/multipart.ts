import multipart, { type FastifyMultipartOptions } from '@fastify/multipart';
import fp from 'fastify-plugin';
import type { Config } from '../../config.js';

/** Non-file form fields a request may carry. */
export const MAX_FORM_FIELDS = 8;

/** Tight limits: a file never exceeds MAX_UPLOAD_BYTES, a request never holds more than MAX_BATCH_FILES. */
function multipartOptions(config: Config): FastifyMultipartOptions {
  return {
    throwFileSizeLimit: true,
    limits: {
      fileSize: config.MAX_UPLOAD_BYTES,
      files: config.MAX_BATCH_FILES,
      fields: MAX_FORM_FIELDS,
      fieldNameSize: 100,
      fieldSize: 4096,
      headerPairs: 50,
      parts: config.MAX_BATCH_FILES + 8,
    },
  };
}

export default fp<{ config: Config }>(
  async (app, { config }) => {
    await app.register(multipart, multipartOptions(config));
  },
  { name: 'multipart' },
);
