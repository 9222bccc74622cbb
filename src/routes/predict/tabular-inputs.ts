/** Read the row(s) of a tabular prediction request: JSON only. */
import type { FastifyRequest } from 'fastify';
import { badRequest, ProblemError, tooLarge } from '../../http/problems.js';
import type { ServedVersion } from '../../inference/served-version.js';

function jsonObject(request: FastifyRequest, model: ServedVersion, shape: string): Record<string, unknown> {
  const body: unknown = request.body;
  if (request.isMultipart() || Buffer.isBuffer(body)) {
    throw new ProblemError(415, 'unsupported-media-type', `model '${model.name}' (${model.kind}) takes application/json: ${shape}`);
  }
  if (body === undefined || body === null) throw badRequest('invalid-body', `the request has no body; send ${shape}`);
  if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('invalid-body', `the JSON body must be ${shape}`);
  return body as Record<string, unknown>;
}

/** The `features` of a /predict request for a tabular model (checked by the kind). */
export function readTabularRow(request: FastifyRequest, model: ServedVersion): unknown {
  const shape = '{"features": [<numbers in declared order>]} or {"features": {"<feature>": <number>, ...}}';
  const body = jsonObject(request, model, shape);
  if (!('features' in body)) throw badRequest('invalid-body', `the JSON body must be ${shape}`);
  return body.features;
}

/** The `instances` of a /predict/batch request for a tabular model, at most `maxRows`. */
export function readTabularRows(request: FastifyRequest, model: ServedVersion, maxRows: number): unknown[] {
  const shape = '{"instances": [<row>, ...]}, each row an array in declared order or an object keyed by feature name';
  const { instances } = jsonObject(request, model, shape);
  if (!Array.isArray(instances) || instances.length === 0) throw badRequest('invalid-body', `the JSON body must be ${shape}, with at least one row`);
  if (instances.length > maxRows) throw tooLarge(`at most ${maxRows} rows per batch (MAX_BATCH_FILES); got ${instances.length}`);
  return instances;
}
