/** Client-facing errors, rendered as RFC 9457 problem details by the one error handler. */
import { STATUS_CODES } from 'node:http';
import { ImageError, type ImageErrorCode } from './preprocessing/image.js';

export class ProblemError extends Error {
  readonly title: string;

  constructor(
    readonly status: number,
    readonly slug: string,
    detail: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = 'ProblemError';
    this.title = STATUS_CODES[status] ?? 'Error';
  }

  get type(): string {
    return problemType(this.slug);
  }
}

export function problemType(slug: string): string {
  return `urn:ml-inference-api:problem:${slug}`;
}

export const badRequest = (slug: string, detail: string): ProblemError => new ProblemError(400, slug, detail);
export const tooLarge = (detail: string): ProblemError => new ProblemError(413, 'payload-too-large', detail);
export const unavailable = (detail: string, retryAfterS = 1): ProblemError =>
  new ProblemError(503, 'not-ready', detail, { 'retry-after': String(retryAfterS) });

const IMAGE_STATUS: Record<ImageErrorCode, [number, string]> = {
  empty: [400, 'empty-image'],
  not_an_image: [400, 'not-an-image'],
  unsupported_format: [415, 'unsupported-image'],
  too_many_pixels: [422, 'image-too-large'],
  undecodable: [422, 'undecodable-image'],
};

/** The problem an image error maps to. */
export function fromImageError(err: ImageError): ProblemError {
  const [status, slug] = IMAGE_STATUS[err.code];
  return new ProblemError(status, slug, err.message);
}

/** Map anything thrown while handling one image to a client problem, or rethrow a real bug. */
export function toClientProblem(err: unknown): ProblemError {
  if (err instanceof ProblemError) return err;
  if (err instanceof ImageError) return fromImageError(err);
  throw err;
}
