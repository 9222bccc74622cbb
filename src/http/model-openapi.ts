/**
 * An OpenAPI document for one served model (GET /v1/models/{name}/openapi.json): its two
 * prediction routes with that model's own request (named features with descriptions and
 * training ranges for a tabular model; multipart, base64 or raw images for an image model)
 * and answer. Generated per request from the version that serves, so it follows hot reload.
 */
import type { OpenAPIV3 } from 'openapi-types';
import { z } from 'zod';
import type { ServedVersion } from '../inference/served-version.js';
import { isTabular } from '../kinds/metadata.js';
import type { TabularMetadata } from '../kinds/tabular/metadata.js';
import { batchResponseSchema, predictionSchema, regressionSchema } from '../schemas/predict.js';
import { problemSchema } from '../schemas/problem.js';
import { requestBodies } from './openapi-bodies.js';

/** An inline OpenAPI 3.0 schema (no $defs: registered ids are not extracted). */
function inline(schema: z.ZodType): OpenAPIV3.SchemaObject {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'output', metadata: z.registry() }) as Record<string, unknown>;
  return rest as OpenAPIV3.SchemaObject;
}

const round = (v: number): number => Math.round(v * 100) / 100;

function tabularRow(m: TabularMetadata): { schema: OpenAPIV3.SchemaObject; example: Record<string, number> } {
  const properties: Record<string, OpenAPIV3.SchemaObject> = {};
  const example: Record<string, number> = {};
  m.features.forEach((f, i) => {
    const range = f.min !== undefined && f.max !== undefined ? `; seen in training: ${f.min} to ${f.max} (values outside are answered with a warning)` : '';
    properties[f.name] = { type: 'number', description: `${f.description ?? f.name}${f.unit ? ` (${f.unit})` : ''}${range}` };
    example[f.name] = round(m.standardization.mean[i]!);
  });
  const names = m.features.map((f) => f.name);
  return {
    schema: {
      oneOf: [
        { type: 'object', title: 'By feature name', required: names, additionalProperties: false, properties },
        { type: 'array', title: 'In declared order', description: names.join(', '), items: { type: 'number' }, minItems: names.length, maxItems: names.length },
      ],
    },
    example,
  };
}

const problemContent = (): Record<string, OpenAPIV3.MediaTypeObject> => ({ 'application/problem+json': { schema: inline(problemSchema) } });

/** The document for the version serving `model`'s unversioned requests. */
export function modelOpenApi(model: ServedVersion, serviceVersion: string): OpenAPIV3.Document {
  const m = model.metadata;
  const base = `/v1/models/${model.name}`;
  let single: OpenAPIV3.RequestBodyObject;
  let batch: OpenAPIV3.RequestBodyObject;
  let answer: OpenAPIV3.SchemaObject;
  let summary: string;
  if (isTabular(m)) {
    const row = tabularRow(m);
    single = {
      required: true,
      content: { 'application/json': { schema: { type: 'object', required: ['features'], properties: { features: row.schema } }, example: { features: row.example } } },
    };
    batch = {
      required: true,
      content: {
        'application/json': {
          schema: { type: 'object', required: ['instances'], properties: { instances: { type: 'array', minItems: 1, items: row.schema } } },
          example: { instances: [row.example, m.standardization.mean.map(round)] },
        },
      },
    };
    answer = inline(m.kind === 'tabular-classifier' ? predictionSchema : regressionSchema);
    summary = m.kind === 'tabular-classifier' ? `Classify one row (${m.labels.join(', ')})` : `Predict ${m.target.name} for one row`;
  } else {
    const bodies = requestBodies();
    single = bodies.predict;
    batch = bodies.batch;
    answer = inline(predictionSchema);
    summary = 'Classify one image';
  }
  const errors = (...codes: number[]): OpenAPIV3.ResponsesObject =>
    Object.fromEntries(codes.map((c) => [String(c), { description: 'Problem details (RFC 9457)', content: problemContent() }]));
  return {
    openapi: '3.0.3',
    info: {
      title: `${model.name} (version ${model.version})`,
      version: serviceVersion,
      description: `${'description' in m && m.description ? `${m.description}. ` : ''}Kind: ${m.kind}. This document follows the version that serves ${base}/predict; it changes when a new version is loaded.`,
    },
    paths: {
      [`${base}/predict`]: {
        post: {
          summary,
          operationId: `predict_${model.name.replace(/[^A-Za-z0-9]/g, '_')}`,
          requestBody: single,
          responses: { '200': { description: 'The answer, with the model version that gave it', content: { 'application/json': { schema: answer } } }, ...errors(400, 404, 413, 415, 422, 503) },
        },
      },
      [`${base}/predict/batch`]: {
        post: {
          summary: `${summary.replace('one row', 'up to MAX_BATCH_FILES rows').replace('one image', 'up to MAX_BATCH_FILES images')}, answered in order`,
          operationId: `predict_batch_${model.name.replace(/[^A-Za-z0-9]/g, '_')}`,
          requestBody: batch,
          responses: { '200': { description: 'One entry per input, in order', content: { 'application/json': { schema: inline(batchResponseSchema) } } }, ...errors(400, 404, 413, 415, 503) },
        },
      },
    },
  };
}
