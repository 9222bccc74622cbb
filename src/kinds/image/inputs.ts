/** Read the image(s) of a native request from multipart, JSON (base64) or a raw body. */
import { parseBase64 } from '../../preprocessing/base64.js';
import { invalidInput, ServingError, tooLarge } from '../../serving/errors.js';
import type { BatchEntry, InputLimits, NativeBody, UploadedFile } from '../kind.js';
import { batchJsonBodySchema, predictJsonBodySchema } from './schemas.js';

/** An encoded image file, or interleaved 8-bit RGB pixels when `pixels` is set. */
export interface ImageInput {
  bytes: Uint8Array;
  /** Raw RGB: `bytes` holds width × height × 3 values (the Open Inference Protocol's UINT8 tensors). */
  pixels?: { width: number; height: number };
}

/** Decode strict base64 (whitespace and a data: URL prefix allowed). */
function decodeBase64(value: string, what: string): Uint8Array {
  const bytes = parseBase64(value);
  if (!bytes) throw invalidInput('invalid-base64', `${what} is not valid base64`);
  return bytes;
}

const missingFile = (message: string): ServingError => invalidInput('missing-file', message);

/** A raw body an image model reads: image/* or application/octet-stream (text bodies are for text models). */
const isImageBody = (contentType: string): boolean => /^(image\/|application\/octet-stream)/i.test(contentType.trim());
const notAnImageBody = (contentType: string): ServingError =>
  new ServingError('unsupported-media', 'unsupported-media-type', `Content-Type '${contentType.slice(0, 100)}' is not accepted here; send multipart/form-data, application/json, image/* or application/octet-stream`);

async function firstFile(files: AsyncIterable<UploadedFile>): Promise<UploadedFile | undefined> {
  for await (const file of files) return file;
  return undefined;
}

/** The one image of a /predict or /explain request. */
export async function readSingleImage(body: NativeBody): Promise<ImageInput> {
  switch (body.type) {
    case 'multipart': {
      const part = await firstFile(body.files());
      if (!part) throw missingFile("the multipart body has no file; send the image in the field 'file'");
      if (part.field !== 'file') throw missingFile(`unexpected file field '${part.field}'; send the image in the field 'file'`);
      if (part.truncated) throw tooLarge('the file is larger than MAX_UPLOAD_BYTES');
      return { bytes: part.bytes };
    }
    case 'raw':
      if (!isImageBody(body.contentType)) throw notAnImageBody(body.contentType);
      return { bytes: body.bytes };
    case 'none':
      throw missingFile('the request has no body; send an image');
    case 'json': {
      const parsed = predictJsonBodySchema.safeParse(body.value);
      if (!parsed.success) throw invalidInput('invalid-body', 'the JSON body must be {"image": "<base64>"}');
      return { bytes: decodeBase64(parsed.data.image, 'image') };
    }
  }
}

/** The images of a /predict/batch request, at most limits.maxBatchInputs (multipart enforces it while parsing). */
export async function readBatchImages(body: NativeBody, limits: InputLimits): Promise<BatchEntry<ImageInput>[]> {
  if (body.type === 'multipart') {
    const entries: BatchEntry<ImageInput>[] = [];
    let total = 0;
    for await (const part of body.files()) {
      if (part.field !== 'files') throw missingFile(`unexpected file field '${part.field}'; send images in repeated 'files' fields`);
      total += part.bytes.length;
      if (total > limits.maxBatchUploadBytes) throw tooLarge(`the files exceed MAX_BATCH_UPLOAD_BYTES (${limits.maxBatchUploadBytes} bytes)`);
      entries.push({ filename: part.filename, input: { ok: true, value: { bytes: part.bytes } } });
    }
    if (entries.length === 0) throw missingFile("the multipart body has no files; send images in repeated 'files' fields");
    return entries;
  }
  if (body.type === 'none') throw missingFile('the request has no body');
  if (body.type === 'raw' && !isImageBody(body.contentType)) throw notAnImageBody(body.contentType);
  const parsed = batchJsonBodySchema.safeParse(body.type === 'json' ? body.value : undefined);
  if (!parsed.success) throw invalidInput('invalid-body', 'the JSON body must be {"images": ["<base64>", ...]} with at least one image');
  const { images } = parsed.data;
  if (images.length > limits.maxBatchInputs) throw tooLarge(`at most ${limits.maxBatchInputs} images per batch (MAX_BATCH_FILES); got ${images.length}`);
  return images.map((image, i) => {
    // One bad entry fails alone, like an undecodable image.
    const bytes = parseBase64(image);
    return { filename: null, input: bytes ? { ok: true, value: { bytes } } : { ok: false, error: invalidInput('invalid-base64', `images[${i}] is not valid base64`) } };
  });
}
