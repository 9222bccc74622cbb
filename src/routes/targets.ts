/** The three places a per-input route lives: the default model, a model, a model version. */
import { z } from 'zod';

const nameParam = z.string().describe('Model name');
const versionParam = z.string().describe('Model version (a positive integer)');

export const MODEL_TARGETS = [
  { prefix: '', params: undefined, what: 'the default model (DEFAULT_MODEL)' },
  { prefix: '/v1/models/:name', params: z.object({ name: nameParam }), what: "the model's default version" },
  { prefix: '/v1/models/:name/versions/:version', params: z.object({ name: nameParam, version: versionParam }), what: 'that version' },
] as const;
