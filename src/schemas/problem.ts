import { z } from 'zod';

/** RFC 9457 problem details, the body of every error response (`application/problem+json`). */
export const problemSchema = z
  .object({
    type: z.string().describe('URI reference naming the kind of problem'),
    title: z.string().describe('Short summary of the kind of problem'),
    status: z.number().int().describe('HTTP status code'),
    detail: z.string().describe('What went wrong with this request'),
    instance: z.string().describe('The request path'),
    request_id: z.string().describe('Also sent as the X-Request-Id response header'),
    errors: z
      .array(z.object({ feature: z.string().optional(), message: z.string() }))
      .optional()
      .describe('Tabular inputs: one entry per offending feature'),
  })
  .meta({ id: 'Problem' });

export type Problem = z.infer<typeof problemSchema>;

/** Error responses a route can produce, for its OpenAPI entry. */
export function problemResponses(...codes: number[]): Record<number, typeof problemSchema> {
  return Object.fromEntries(codes.map((c) => [c, problemSchema.describe(PROBLEM_DESCRIPTIONS[c] ?? 'Error')]));
}

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: 'Missing file, malformed body, content that is not an image, or an invalid model name or version',
  401: 'Missing or invalid credentials',
  403: 'The admin API is disabled (no ADMIN_API_KEYS)',
  404: 'No such route, model or version',
  409: "The change could not be recorded in the model's config.json: If-Match names a stale revision, the file is invalid, or the repository cannot be written",
  413: 'Upload larger than MAX_UPLOAD_BYTES, or too many files',
  415: 'Unsupported Content-Type, or an image format that is not accepted (SVG, PDF, HEIC ...)',
  422: 'The image could not be decoded or has more than MAX_INPUT_PIXELS pixels; or tabular features are missing, unknown, not finite numbers or too large for the model (each named in errors); or the model gives no finite answer for the input',
  500: 'Unexpected server error (nothing internal is disclosed)',
  429: 'Rate limit exceeded (RATE_LIMIT_MAX per RATE_LIMIT_WINDOW); see Retry-After',
  503: 'Not ready, shutting down, or overloaded (queue full, under pressure); see Retry-After',
};
