/** Strict base64 (whitespace and a `data:` URL prefix allowed): the bytes, or undefined when the text is not base64. */
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function parseBase64(value: string): Uint8Array | undefined {
  const body = value.replace(/^data:[\w.+/-]*;base64,/, '').replace(/\s+/g, '');
  if (body.length % 4 !== 0 || !BASE64.test(body)) return undefined;
  return Buffer.from(body, 'base64');
}
