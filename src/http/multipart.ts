/**
 * multipart/form-data (RFC 7578) over a body already in memory. The route's body limit bounds
 * what is read (an upload is at most MAX_UPLOAD_BYTES, a batch MAX_BATCH_UPLOAD_BYTES), so a
 * buffered body costs no more memory than the files it carries; parsing it with Buffer.indexOf
 * costs a fraction of a streaming parser's events, streams and promises per part.
 *
 * It keeps what the streaming parser (busboy, through @fastify/multipart) did: a part is a file
 * when it names a filename or is application/octet-stream; the file name loses its path; parts
 * that are not form-data are skipped; the limits on files, fields, parts and file size raise
 * the same errors; files are read lazily, so a route that takes the first file never looks at
 * the rest.
 */
import type { UploadedFile } from '../kinds/kind.js';

export interface MultipartLimits {
  /** Largest file; a larger one is an error (FST_REQ_FILE_TOO_LARGE). */
  fileSize: number;
  files: number;
  fields: number;
  parts: number;
  headerPairs: number;
}

/** A framing or limit error; `code` and `statusCode` as @fastify/multipart gave them (none: malformed). */
export class MultipartError extends Error {
  constructor(
    message: string,
    readonly code?: string,
    readonly statusCode?: number,
  ) {
    super(message);
    this.name = 'MultipartError';
  }
}

const HEADERS_END = Buffer.from('\r\n\r\n');
/** Part headers larger than this are not a form (busboy allows 80 KiB). */
const MAX_HEADER_BYTES = 80 * 1024;

/** The boundary parameter of a multipart Content-Type, or undefined. */
export function boundaryOf(contentType: string): string | undefined {
  const params = parseParams(contentType).params;
  const b = params.get('boundary');
  return b && b.length <= 200 ? b : undefined;
}

/** Percent-decoded bytes of an RFC 5987 value, read in its charset (UTF-8 or ISO-8859-1); null for others. */
function extValue(v: string): string | null {
  const m = /^([\w!#$%&+^`{}~-]*)'[^']*'(.*)$/.exec(v);
  if (!m) return null;
  const charset = m[1]!.toLowerCase();
  if (charset !== 'utf-8' && charset !== 'iso-8859-1' && charset !== 'latin1') return null;
  const bytes: number[] = [];
  const text = m[2]!;
  for (let i = 0; i < text.length; i++) {
    const hex = text[i] === '%' ? text.slice(i + 1, i + 3) : '';
    if (/^[0-9a-f]{2}$/i.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else bytes.push(text.charCodeAt(i) & 0xff);
  }
  return Buffer.from(bytes).toString(charset === 'utf-8' ? 'utf8' : 'latin1');
}

/** `value; a=b; c="d"` → the value and its parameters (quoted strings unescaped; an RFC 5987 `name*` wins over `name`). */
function parseParams(header: string): { value: string; params: Map<string, string> } {
  const params = new Map<string, string>();
  const extended = new Map<string, string>();
  let i = header.indexOf(';');
  const value = (i < 0 ? header : header.slice(0, i)).trim().toLowerCase();
  while (i >= 0 && i < header.length) {
    i++;
    while (header[i] === ' ' || header[i] === '\t') i++;
    const eq = header.indexOf('=', i);
    if (eq < 0) break;
    const name = header.slice(i, eq).trim().toLowerCase();
    let j = eq + 1;
    while (header[j] === ' ' || header[j] === '\t') j++;
    let v = '';
    if (header[j] === '"') {
      for (j++; j < header.length && header[j] !== '"'; j++) {
        if (header[j] === '\\' && j + 1 < header.length) j++;
        v += header[j];
      }
      j = header.indexOf(';', j);
    } else {
      const end = header.indexOf(';', j);
      v = (end < 0 ? header.slice(j) : header.slice(j, end)).trim();
      j = end;
    }
    if (name.endsWith('*')) {
      const decoded = extValue(v);
      if (decoded !== null) extended.set(name.slice(0, -1), decoded);
    } else if (!params.has(name)) params.set(name, v);
    i = j;
  }
  for (const [name, v] of extended) params.set(name, v);
  return { value, params };
}

/** The last path segment of a client's file name ("C:\\x\\a.jpg" → "a.jpg"; "." and ".." → ""). */
function basename(path: string): string {
  const cut = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  const name = cut < 0 ? path : path.slice(cut + 1);
  return name === '.' || name === '..' ? '' : name;
}

const bareLineBreak = (s: string): boolean => /[\r\n]/.test(s);

/**
 * The files of a multipart body, in order, as they are asked for. Throws MultipartError for a
 * body that is not well-formed up to the part asked for, or past a limit.
 */
export function* multipartFiles(body: Buffer, contentType: string, limits: MultipartLimits): Generator<UploadedFile> {
  const boundary = boundaryOf(contentType);
  if (!boundary) throw new MultipartError('Multipart: Boundary not found');
  const dash = Buffer.from(`--${boundary}`);
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  // The first delimiter opens the body or follows a preamble's line break.
  let at = body.subarray(0, dash.length).equals(dash) ? 0 : body.indexOf(delimiter);
  if (at < 0) throw new MultipartError('Unexpected end of form');
  at += at === 0 && body[0] === 0x2d ? dash.length : delimiter.length;
  let files = 0;
  let fields = 0;
  let parts = 0;
  for (;;) {
    // After a delimiter: "--" closes the body; otherwise optional padding, then a line break.
    if (body[at] === 0x2d && body[at + 1] === 0x2d) return;
    while (body[at] === 0x20 || body[at] === 0x09) at++;
    if (body[at] !== 0x0d || body[at + 1] !== 0x0a) throw new MultipartError('Unexpected end of form');
    at += 2;
    if (++parts > limits.parts) throw new MultipartError('reach parts limit', 'FST_PARTS_LIMIT', 413);
    // An empty header block ends at once; otherwise at the first blank line.
    const headerEnd = body[at] === 0x0d && body[at + 1] === 0x0a ? at : body.indexOf(HEADERS_END, at);
    if (headerEnd < 0 || headerEnd - at > MAX_HEADER_BYTES) throw new MultipartError('Malformed part header');
    const headers = partHeaders(body.toString('latin1', at, headerEnd), limits.headerPairs);
    const start = headerEnd === at ? at + 2 : headerEnd + 4;
    const end = body.indexOf(delimiter, start);
    if (end < 0) throw new MultipartError('Unexpected end of form');
    at = end + delimiter.length;
    const disposition = headers.get('content-disposition');
    if (disposition === undefined) continue;
    const { value, params } = parseParams(disposition);
    if (value !== 'form-data') continue;
    const field = params.get('name');
    let filename = params.get('filename');
    if ((field !== undefined && bareLineBreak(field)) || (filename !== undefined && bareLineBreak(filename))) continue;
    if (filename !== undefined) filename = basename(filename);
    const type = parseParams(headers.get('content-type') ?? '').value || 'text/plain';
    if (filename === undefined && type !== 'application/octet-stream') {
      if (++fields > limits.fields) throw new MultipartError('reach fields limit', 'FST_FIELDS_LIMIT', 413);
      continue;
    }
    if (++files > limits.files) throw new MultipartError('reach files limit', 'FST_FILES_LIMIT', 413);
    if (end - start > limits.fileSize) throw new MultipartError('request file too large', 'FST_REQ_FILE_TOO_LARGE', 413);
    yield { field: field ?? '', filename: filename || null, bytes: body.subarray(start, end), truncated: false };
  }
}

/** A part's header lines, names lower-cased, the first of each kept; at most `maxPairs`. */
function partHeaders(block: string, maxPairs: number): Map<string, string> {
  const headers = new Map<string, string>();
  let pairs = 0;
  for (const line of block.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    if (++pairs > maxPairs) break;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim());
  }
  return headers;
}
