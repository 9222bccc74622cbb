/** Read the row(s) of a native request for a tabular model: JSON only. */
import { invalidInput, ServingError, tooLarge } from '../../serving/errors.js';
import type { BatchEntry, InputLimits, NativeBody } from '../kind.js';

function jsonObject(body: NativeBody, what: string, shape: string): Record<string, unknown> {
  if (body.type === 'multipart' || body.type === 'raw') throw new ServingError('unsupported-media', 'unsupported-media-type', `${what} takes application/json: ${shape}`);
  if (body.type === 'none') throw invalidInput('invalid-body', `the request has no body; send ${shape}`);
  const value = body.value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidInput('invalid-body', `the JSON body must be ${shape}`);
  return value as Record<string, unknown>;
}

/** The `features` of a /predict request (checked by the kind). `what` names the model in messages. */
export function readRow(body: NativeBody, what: string): unknown {
  const shape = '{"features": [<numbers in declared order>]} or {"features": {"<feature>": <number>, ...}}';
  const value = jsonObject(body, what, shape);
  if (!('features' in value)) throw invalidInput('invalid-body', `the JSON body must be ${shape}`);
  return value.features;
}

/** The `instances` of a /predict/batch request, at most limits.maxBatchInputs. */
export function readRows(body: NativeBody, what: string, limits: InputLimits): BatchEntry<unknown>[] {
  const shape = '{"instances": [<row>, ...]}, each row an array in declared order or an object keyed by feature name';
  const { instances } = jsonObject(body, what, shape);
  if (!Array.isArray(instances) || instances.length === 0) throw invalidInput('invalid-body', `the JSON body must be ${shape}, with at least one row`);
  if (instances.length > limits.maxBatchInputs) throw tooLarge(`at most ${limits.maxBatchInputs} rows per batch (MAX_BATCH_FILES); got ${instances.length}`);
  return instances.map((row: unknown) => ({ filename: null, input: { ok: true, value: row } }));
}
