/** The text classifier's request bodies, generated from the zod schemas its readers use. */
import type { OpenAPIV3 } from 'openapi-types';
import { inline, jsonSchema } from '../../http/openapi-schema.js';
import { predictionSchema } from '../answers.js';
import type { OpenApiPieces } from '../kind.js';
import { batchTextBodySchema, predictTextBodySchema } from './schemas.js';

const TEXT_SCHEMA: OpenAPIV3.SchemaObject = { type: 'string', description: 'The text (UTF-8 unless the charset parameter names another)' };
const EMAIL_SCHEMA: OpenAPIV3.SchemaObject = { type: 'string', format: 'binary', description: 'A whole RFC 822 e-mail, as received' };

export function textRequestBodies(): Record<'predict' | 'batch', OpenAPIV3.RequestBodyObject> {
  return {
    predict: {
      required: true,
      content: {
        'application/json': { schema: jsonSchema(predictTextBodySchema) },
        'text/plain': { schema: TEXT_SCHEMA },
        'message/rfc822': { schema: EMAIL_SCHEMA },
      },
    },
    batch: { required: true, content: { 'application/json': { schema: jsonSchema(batchTextBodySchema) } } },
  };
}

export function textOpenApi(): OpenApiPieces {
  const bodies = textRequestBodies();
  return { summary: 'Classify one text or e-mail', batchSummary: 'Classify up to MAX_BATCH_FILES texts', single: bodies.predict, batch: bodies.batch, answer: inline(predictionSchema) };
}
