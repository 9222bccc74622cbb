/** The in-memory multipart/form-data parser: what it takes as files, its limits and its framing errors. */
import { describe, expect, it } from 'vitest';
import { boundaryOf, MultipartError, multipartFiles, type MultipartLimits } from '../../src/http/multipart.js';

const limits: MultipartLimits = { fileSize: 1000, files: 3, fields: 2, parts: 6, headerPairs: 50 };
const TYPE = 'multipart/form-data; boundary=XyZ';

function form(parts: string[], { preamble = '', close = true, epilogue = '' } = {}): Buffer {
  return Buffer.from(`${preamble}${parts.map((p) => `--XyZ\r\n${p}\r\n`).join('')}${close ? `--XyZ--\r\n${epilogue}` : ''}`, 'latin1');
}
const file = (name: string, filename: string | null, body: string, type = 'image/jpeg'): string =>
  `Content-Disposition: form-data; name="${name}"${filename === null ? '' : `; filename="${filename}"`}\r\nContent-Type: ${type}\r\n\r\n${body}`;
const all = (body: Buffer, type = TYPE) => [...multipartFiles(body, type, limits)].map((f) => ({ field: f.field, filename: f.filename, bytes: f.bytes.toString('latin1') }));
const error = (run: () => unknown): MultipartError => {
  try {
    run();
  } catch (err) {
    if (err instanceof MultipartError) return err;
    throw err;
  }
  throw new Error('no error');
};

describe('multipart/form-data', () => {
  it('reads the boundary, quoted or not', () => {
    expect(boundaryOf('multipart/form-data; boundary=abc')).toBe('abc');
    expect(boundaryOf('multipart/form-data; charset=utf-8; boundary="a b;c"')).toBe('a b;c');
    expect(boundaryOf('multipart/form-data')).toBeUndefined();
    expect(boundaryOf('multipart/form-data; boundary=')).toBeUndefined();
  });

  it('gives each file with its field and base name; fields, non-form-data parts and parts without a disposition are skipped', () => {
    const body = form(
      [
        'Content-Disposition: form-data; name="note"\r\n\r\nhello',
        file('files', '/home/me/photos/cat.jpg', 'CAT\r\nwith a line break'),
        'Content-Disposition: attachment; name="x"; filename="x.jpg"\r\n\r\nnope',
        'Content-Type: image/png\r\n\r\nno disposition',
        file('files', '../../etc/passwd', ''),
        'Content-Disposition: form-data; name="raw"\r\nContent-Type: application/octet-stream\r\n\r\nRAW',
      ],
      { preamble: 'ignored preamble\r\n', epilogue: 'ignored epilogue' },
    );
    expect(all(body)).toEqual([
      { field: 'files', filename: 'cat.jpg', bytes: 'CAT\r\nwith a line break' },
      { field: 'files', filename: 'passwd', bytes: '' },
      { field: 'raw', filename: null, bytes: 'RAW' },
    ]);
  });

  it('unescapes quoted names and decodes RFC 5987 file names', () => {
    const body = form([
      'Content-Disposition: form-data; name="a\\"b"; filename="plain.jpg"; filename*=UTF-8\'\'%C3%B1and%C3%BA.jpg\r\n\r\nX',
      'content-disposition: FORM-DATA; NAME=file; FILENAME=token.jpg\r\n\r\nY',
      'Content-Disposition: form-data; name="file"; filename=".."\r\n\r\nZ',
    ]);
    expect(all(body)).toEqual([
      { field: 'a"b', filename: 'ñandú.jpg', bytes: 'X' },
      { field: 'file', filename: 'token.jpg', bytes: 'Y' },
      { field: 'file', filename: null, bytes: 'Z' },
    ]);
  });

  it('is lazy: a reader that stops after the first file never sees later damage', () => {
    const body = Buffer.concat([form([file('file', 'a.jpg', 'A')], { close: false }), Buffer.from('--XyZ\r\ngarbage without an end')]);
    const files = multipartFiles(body, TYPE, limits);
    expect(files.next().value?.bytes.toString()).toBe('A');
    expect(error(() => files.next()).message).toBe('Malformed part header');
  });

  it('refuses broken framing as malformed (no status), and limits with @fastify/multipart’s codes and 413', () => {
    expect(error(() => all(form([file('file', 'a.jpg', 'A')]), 'multipart/form-data')).message).toMatch(/Boundary not found/);
    expect(error(() => all(Buffer.from('no delimiter at all'))).message).toBe('Unexpected end of form');
    expect(error(() => all(form([file('file', 'a.jpg', 'A')], { close: false }))).message).toBe('Unexpected end of form');
    expect(error(() => all(Buffer.from('--XyZ\r\nContent-Disposition: form-data; name="file"'))).message).toBe('Malformed part header');
    expect(error(() => all(Buffer.from('--XyZjunk\r\n'))).message).toBe('Unexpected end of form');
    for (const e of [error(() => all(Buffer.from('x')))]) expect(e.statusCode).toBeUndefined();

    const big = error(() => all(form([file('file', 'big.jpg', 'x'.repeat(1001))])));
    expect([big.code, big.statusCode]).toEqual(['FST_REQ_FILE_TOO_LARGE', 413]);
    expect(all(form([file('file', 'max.jpg', 'x'.repeat(1000))]))[0]!.bytes).toHaveLength(1000);
    const files = error(() => all(form(Array.from({ length: 4 }, (_, i) => file('files', `${i}.jpg`, 'F')))));
    expect([files.code, files.statusCode]).toEqual(['FST_FILES_LIMIT', 413]);
    const fields = error(() => all(form(Array.from({ length: 3 }, (_, i) => `Content-Disposition: form-data; name="f${i}"\r\n\r\nv`))));
    expect([fields.code, fields.statusCode]).toEqual(['FST_FIELDS_LIMIT', 413]);
    const parts = error(() => all(form(Array.from({ length: 7 }, () => 'Content-Type: text/plain\r\n\r\nskipped'))));
    expect([parts.code, parts.statusCode]).toEqual(['FST_PARTS_LIMIT', 413]);
  });

  it('takes an empty header block, transport padding after a delimiter, and an empty form', () => {
    expect(all(Buffer.from('--XyZ \t\r\n\r\nbody\r\n--XyZ--'))).toEqual([]);
    expect(all(Buffer.from('--XyZ--\r\n'))).toEqual([]);
  });
});
