/** Request bodies of the prediction routes, generated from the zod schemas the handlers use. */
import type { OpenAPIV3 } from 'openapi-types';
import { z } from 'zod';
import { inferenceRequestSchema } from '../protocols/open-inference/tensors.js';
import { batchJsonBodySchema, batchMultipartBodySchema, predictJsonBodySchema, predictMultipartBodySchema } from '../schemas/predict.js';

const binary = { type: 'string', format: 'binary' } as const;

/** Inline OpenAPI schema of a request body (these body schemas carry no component id). */
export function jsonSchema(schema: z.ZodType): OpenAPIV3.SchemaObject {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input' }) as Record<string, unknown>;
  // OpenAPI 3.0 marks uploads with format: binary alone; contentEncoding is not allowed there.
  return JSON.parse(JSON.stringify(rest, (key, value: unknown) => (key === 'contentEncoding' ? undefined : value))) as OpenAPIV3.SchemaObject;
}

/**
 * The prediction routes take several body encodings, which a single route body schema cannot
 * describe; their request bodies are generated here from the same zod schemas the handlers use.
 */
export function requestBodies(): Record<'predict' | 'batch' | 'infer', OpenAPIV3.RequestBodyObject> {
  return {
    predict: {
      required: true,
      content: {
        'multipart/form-data': { schema: jsonSchema(predictMultipartBodySchema) },
        'application/json': { schema: jsonSchema(predictJsonBodySchema) },
        'image/*': { schema: binary },
        'application/octet-stream': { schema: binary },
      },
    },
    batch: {
      required: true,
      content: {
        'multipart/form-data': { schema: jsonSchema(batchMultipartBodySchema) },
        'application/json': { schema: jsonSchema(batchJsonBodySchema) },
      },
    },
    infer: {
      required: true,
      description: 'An Open Inference Protocol inference request; with binary tensor data, this JSON (Inference-Header-Content-Length bytes) followed by the inputs\' bytes',
      content: {
        'application/json': { schema: jsonSchema(inferenceRequestSchema) },
        'application/octet-stream': { schema: binary },
      },
    },
  };
}
