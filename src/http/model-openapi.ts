/**
 * An OpenAPI document for one served model (GET /v1/models/{name}/openapi.json): its two
 * prediction routes with that model's own request and answer, as its kind describes them.
 * Generated per request from the version that serves, so it follows hot reload.
 */
import type { OpenAPIV3 } from 'openapi-types';
import type { ServedVersion } from '../inference/served-version.js';
import { batchResponseSchema } from '../schemas/predict.js';
import { problemSchema } from '../schemas/problem.js';
import type { AnswerSchema } from '../kinds/kind.js';
import { inline } from './openapi-schema.js';

const problemContent = (): Record<string, OpenAPIV3.MediaTypeObject> => ({ 'application/problem+json': { schema: inline(problemSchema) } });

/** The document for the version serving `model`'s unversioned requests; `answers` are the service's answer forms. */
export function modelOpenApi(model: ServedVersion, serviceVersion: string, answers: readonly AnswerSchema[]): OpenAPIV3.Document {
  const pieces = model.kind.openApi();
  const described = model.kind.describe();
  const base = `/v1/models/${model.name}`;
  const errors = (...codes: number[]): OpenAPIV3.ResponsesObject =>
    Object.fromEntries(codes.map((c) => [String(c), { description: 'Problem details (RFC 9457)', content: problemContent() }]));
  const operationId = model.name.replace(/[^A-Za-z0-9]/g, '_');
  const description = typeof described.description === 'string' && described.description ? `${described.description}. ` : '';
  return {
    openapi: '3.0.3',
    info: {
      title: `${model.name} (version ${model.version})`,
      version: serviceVersion,
      description: `${description}Kind: ${model.kind.kind}. This document follows the version that serves ${base}/predict; it changes when a new version is loaded.`,
    },
    paths: {
      [`${base}/predict`]: {
        post: {
          summary: pieces.summary,
          operationId: `predict_${operationId}`,
          requestBody: pieces.single,
          responses: { '200': { description: 'The answer, with the model version that gave it', content: { 'application/json': { schema: pieces.answer } } }, ...errors(400, 404, 413, 415, 422, 503) },
        },
      },
      [`${base}/predict/batch`]: {
        post: {
          summary: `${pieces.batchSummary}, answered in order`,
          operationId: `predict_batch_${operationId}`,
          requestBody: pieces.batch,
          responses: { '200': { description: 'One entry per input, in order', content: { 'application/json': { schema: inline(batchResponseSchema(answers)) } } }, ...errors(400, 404, 413, 415, 503) },
        },
      },
    },
  };
}
