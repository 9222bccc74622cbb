/** Read the image(s) of a prediction request from multipart, JSON (base64) or a raw body. */
import type { FastifyRequest } from 'fastify';
import { badRequest, ProblemError, tooLarge } from '../../http/problems.js';
import { parseBase64 } from '../../preprocessing/base64.js';
import type { ImageInput } from '../../serving/predictor.js';
import { batchJsonBodySchema, predictJsonBodySchema } from '../../schemas/predict.js';

/** Decode strict base64 (whitespace and a data: URL prefix allowed). */
export function decodeBase64(value: string, what: string): Uint8Array {
  const bytes = parseBase64(value);
  if (!bytes) throw badRequest('invalid-base64', `${what} is not valid base64`);
  return bytes;
}

/** Multipart parser failures that carry no HTTP status are framing errors: the client's fault. */
async function multipartStep<T>(step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (err instanceof ProblemError) throw err;
    const status = (err as { statusCode?: unknown }).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) throw err;
    throw badRequest('malformed-multipart', `the multipart body is malformed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

async function readMultipartFile(request: FastifyRequest): Promise<ImageInput> {
  const part = await request.file();
  if (!part) throw badRequest('missing-file', "the multipart body has no file; send the image in the field 'file'");
  if (part.fieldname !== 'file') {
    throw badRequest('missing-file', `unexpected file field '${part.fieldname}'; send the image in the field 'file'`);
  }
  const bytes = await part.toBuffer();
  if (part.file.truncated) throw tooLarge('the file is larger than MAX_UPLOAD_BYTES');
  return { bytes, filename: part.filename || null };
}

async function readMultipartFiles(request: FastifyRequest, maxTotalBytes: number): Promise<ImageInput[]> {
  const inputs: ImageInput[] = [];
  let total = 0;
  for await (const part of request.parts()) {
    if (part.type !== 'file') continue;
    if (part.fieldname !== 'files') {
      throw badRequest('missing-file', `unexpected file field '${part.fieldname}'; send images in repeated 'files' fields`);
    }
    const bytes = await part.toBuffer();
    total += bytes.length;
    if (total > maxTotalBytes) throw tooLarge(`the files exceed MAX_BATCH_UPLOAD_BYTES (${maxTotalBytes} bytes)`);
    inputs.push({ bytes, filename: part.filename || null });
  }
  if (inputs.length === 0) throw badRequest('missing-file', "the multipart body has no files; send images in repeated 'files' fields");
  return inputs;
}

/** The one image of a /predict request. */
export async function readSingleImage(request: FastifyRequest): Promise<ImageInput> {
  if (request.isMultipart()) return multipartStep(() => readMultipartFile(request));
  const body: unknown = request.body;
  if (Buffer.isBuffer(body)) return { bytes: body, filename: null };
  if (body === undefined || body === null) throw badRequest('missing-file', 'the request has no body; send an image');
  const parsed = predictJsonBodySchema.safeParse(body);
  if (!parsed.success) throw badRequest('invalid-body', 'the JSON body must be {"image": "<base64>"}');
  return { bytes: decodeBase64(parsed.data.image, 'image'), filename: null };
}

/** The images of a /predict/batch request, at most `maxFiles` (multipart enforces it while parsing). */
export async function readBatchImages(request: FastifyRequest, maxFiles: number, maxTotalBytes: number): Promise<ImageInput[]> {
  if (request.isMultipart()) return multipartStep(() => readMultipartFiles(request, maxTotalBytes));
  const body: unknown = request.body;
  if (body === undefined || body === null) throw badRequest('missing-file', 'the request has no body');
  const parsed = batchJsonBodySchema.safeParse(body);
  if (!parsed.success) throw badRequest('invalid-body', 'the JSON body must be {"images": ["<base64>", ...]} with at least one image');
  if (parsed.data.images.length > maxFiles) throw tooLarge(`at most ${maxFiles} images per batch (MAX_BATCH_FILES); got ${parsed.data.images.length}`);
  return parsed.data.images.map((image, i) => {
    try {
      return { bytes: decodeBase64(image, `images[${i}]`), filename: null };
    } catch (err) {
      // One bad entry fails alone, like an undecodable image.
      return { bytes: new Uint8Array(0), filename: null, problem: err as ProblemError };
    }
  });
}
