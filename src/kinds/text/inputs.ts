/**
 * Read the text(s) of a native request: JSON `{"text": …}` or `{"input": …}`, a `text/plain`
 * body (in its declared charset, UTF-8 by default) or a `message/rfc822` body (an e-mail's
 * bytes: its parts declare their own charsets); a batch as `{"instances": [...]}`.
 *
 * Invalid UTF-8: in a text/plain body it is refused (400 invalid-utf8, naming the byte); a JSON
 * body has already been decoded with every invalid sequence replaced by U+FFFD, which the
 * answer then reports as a warning.
 */
import { TextDecoder } from 'node:util';
import { invalidInput, ServingError, tooLarge, type Outcome } from '../../serving/errors.js';
import type { BatchEntry, InputLimits, NativeBody } from '../kind.js';
import type { TextInput } from './pipeline.js';

const SINGLE_SHAPE = '{"text": "<text>"} or {"input": "<text>"}';
const BATCH_SHAPE = '{"instances": ["<text>", ...]} (each a string, or {"text": "<text>"})';
export const TEXT_MEDIA = 'application/json, text/plain or message/rfc822';

const unsupported = (what: string, contentType: string): ServingError =>
  new ServingError('unsupported-media', 'unsupported-media-type', `Content-Type '${contentType.slice(0, 100)}' is not accepted by ${what}; send ${TEXT_MEDIA}`);

/** The media type and charset of a Content-Type header. */
function mediaType(header: string): { type: string; charset: string | undefined } {
  const [type = '', ...params] = header.split(';').map((p) => p.trim());
  const charset = params.map((p) => p.split('=')).find(([k]) => k?.trim().toLowerCase() === 'charset')?.[1];
  return { type: type.toLowerCase(), charset: charset?.trim().replace(/^"(.*)"$/, '$1') };
}

/** Bytes as text in `charset`; invalid bytes are refused with where they are. */
function decodeText(bytes: Uint8Array, charset = 'utf-8'): string {
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(charset, { fatal: true });
  } catch {
    throw new ServingError('unsupported-media', 'unsupported-charset', `charset '${charset.slice(0, 40)}' is not one the server decodes; send UTF-8`);
  }
  try {
    return decoder.decode(bytes);
  } catch {
    // Where the first invalid sequence starts: the longest prefix that decodes.
    let lo = 0;
    let hi = bytes.length;
    const fits = (n: number): boolean => {
      try {
        new TextDecoder(charset, { fatal: true }).decode(bytes.subarray(0, n), { stream: true });
        return true;
      } catch {
        return false;
      }
    };
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (fits(mid)) lo = mid;
      else hi = mid - 1;
    }
    throw invalidInput('invalid-utf8', `the text/plain body is not valid ${decoder.encoding} (at byte ${lo}); send UTF-8, or name the charset (text/plain; charset=iso-8859-1)`);
  }
}

/** The `text` (or `input`) field of a JSON object, and which of the two it is; undefined for anything else. */
function textField(value: unknown): { field: 'text' | 'input'; given: unknown } | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { text, input } = value as Record<string, unknown>;
  if (text !== undefined) return { field: 'text', given: text };
  return input !== undefined ? { field: 'input', given: input } : undefined;
}

/** A JSON value as one text, or why it cannot be (`where` names it in messages). */
function textValue(value: unknown, where: string): Outcome<TextInput> {
  const given = typeof value === 'string' ? value : textField(value)?.given;
  if (typeof given === 'string') return { ok: true, value: { text: given } };
  return { ok: false, error: invalidInput('invalid-body', `${where} must be a string, or {"text": "<text>"}`) };
}

/** The one text of a /predict or /explain request. */
export function readSingleText(body: NativeBody, what: string): TextInput {
  switch (body.type) {
    case 'multipart':
      throw unsupported(what, 'multipart/form-data');
    case 'none':
      throw invalidInput('invalid-body', `the request has no body; send ${SINGLE_SHAPE}`);
    case 'raw': {
      const { type, charset } = mediaType(body.contentType);
      if (type === 'message/rfc822') return { email: body.bytes };
      if (type === 'text/plain') return { text: decodeText(body.bytes, charset) };
      throw unsupported(what, body.contentType);
    }
    case 'json': {
      const found = textField(body.value);
      if (!found) throw invalidInput('invalid-body', `the JSON body must be ${SINGLE_SHAPE}`);
      if (typeof found.given !== 'string') throw invalidInput('invalid-body', `"${found.field}" must be a string; send ${SINGLE_SHAPE}`);
      return { text: found.given };
    }
  }
}

/** The texts of a /predict/batch request, at most limits.maxBatchInputs; a bad entry fails alone. */
export function readTextBatch(body: NativeBody, what: string, limits: InputLimits): BatchEntry<TextInput>[] {
  if (body.type === 'multipart' || body.type === 'raw') throw unsupported(what, body.type === 'raw' ? body.contentType : 'multipart/form-data');
  if (body.type === 'none') throw invalidInput('invalid-body', `the request has no body; send ${BATCH_SHAPE}`);
  const value = body.value as { instances?: unknown } | null;
  const instances = typeof value === 'object' && value !== null ? value.instances : undefined;
  if (!Array.isArray(instances) || instances.length === 0) throw invalidInput('invalid-body', `the JSON body must be ${BATCH_SHAPE}, with at least one text`);
  if (instances.length > limits.maxBatchInputs) throw tooLarge(`at most ${limits.maxBatchInputs} texts per batch (MAX_BATCH_FILES); got ${instances.length}`);
  return instances.map((entry: unknown, i) => ({ filename: null, input: textValue(entry, `instances[${i}]`) }));
}
