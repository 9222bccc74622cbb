/** A tabular model's own OpenAPI pieces: its named features with descriptions and training ranges, and its answer. */
import type { OpenAPIV3 } from 'openapi-types';
import { inline } from '../../http/openapi-schema.js';
import { predictionSchema, regressionSchema } from '../answers.js';
import type { OpenApiPieces } from '../kind.js';
import type { TabularMetadata } from './metadata.js';

const round = (v: number): number => Math.round(v * 100) / 100;

function rowSchema(m: TabularMetadata): { schema: OpenAPIV3.SchemaObject; example: Record<string, number> } {
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

export function tabularOpenApi(m: TabularMetadata): OpenApiPieces {
  const row = rowSchema(m);
  const summary = m.kind === 'tabular-classifier' ? `Classify one row (${m.labels.join(', ')})` : `Predict ${m.target.name} for one row`;
  return {
    summary,
    batchSummary: summary.replace('one row', 'up to MAX_BATCH_FILES rows'),
    single: {
      required: true,
      content: { 'application/json': { schema: { type: 'object', required: ['features'], properties: { features: row.schema } }, example: { features: row.example } } },
    },
    batch: {
      required: true,
      content: {
        'application/json': {
          schema: { type: 'object', required: ['instances'], properties: { instances: { type: 'array', minItems: 1, items: row.schema } } },
          example: { instances: [row.example, m.standardization.mean.map(round)] },
        },
      },
    },
    answer: inline(m.kind === 'tabular-classifier' ? predictionSchema : regressionSchema),
  };
}
