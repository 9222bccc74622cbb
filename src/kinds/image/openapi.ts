/** The image classifier's request bodies, generated from the zod schemas its readers use. */
import type { OpenAPIV3 } from 'openapi-types';
import { BINARY_SCHEMA, inline, jsonSchema } from '../../http/openapi-schema.js';
import { predictionSchema } from '../answers.js';
import type { OpenApiPieces } from '../kind.js';
import { batchJsonBodySchema, batchMultipartBodySchema, predictJsonBodySchema, predictMultipartBodySchema } from './schemas.js';

/** A body in several encodings, which a single route body schema cannot describe. */
export function imageRequestBodies(): Record<'predict' | 'batch', OpenAPIV3.RequestBodyObject> {
  return {
    predict: {
      required: true,
      content: {
        'multipart/form-data': { schema: jsonSchema(predictMultipartBodySchema) },
        'application/json': { schema: jsonSchema(predictJsonBodySchema) },
        'image/*': { schema: BINARY_SCHEMA },
        'application/octet-stream': { schema: BINARY_SCHEMA },
      },
    },
    batch: {
      required: true,
      content: {
        'multipart/form-data': { schema: jsonSchema(batchMultipartBodySchema) },
        'application/json': { schema: jsonSchema(batchJsonBodySchema) },
      },
    },
  };
}

export function imageOpenApi(): OpenApiPieces {
  const bodies = imageRequestBodies();
  return { summary: 'Classify one image', batchSummary: 'Classify up to MAX_BATCH_FILES images', single: bodies.predict, batch: bodies.batch, answer: inline(predictionSchema) };
}
