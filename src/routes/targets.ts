/** Shared by the per-input routes (predict, explain, infer): where they live and their body limits. */
import { z } from 'zod';

const nameParam = z.string().describe('Model name');
const versionParam = z.string().describe('Model version (a positive integer)');

export const MODEL_TARGETS = [
  { prefix: '', params: undefined, what: 'the default model (DEFAULT_MODEL)' },
  { prefix: '/v1/models/:name', params: z.object({ name: nameParam }), what: "the model's default version" },
  { prefix: '/v1/models/:name/versions/:version', params: z.object({ name: nameParam, version: versionParam }), what: 'that version' },
] as const;

/** Room in a body limit for base64 (JSON) or form encoding of `bytes` of uploads. */
export function encodedBodyLimit(bytes: number): number {
  return Math.ceil(bytes * (4 / 3)) + 64 * 1024;
}
