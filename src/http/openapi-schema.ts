/** Zod schemas as inline OpenAPI 3.0 schemas, for the documents built by hand. */
import type { OpenAPIV3 } from 'openapi-types';
import { z } from 'zod';

/** Inline OpenAPI schema of a request body (these body schemas carry no component id). */
export function jsonSchema(schema: z.ZodType): OpenAPIV3.SchemaObject {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input' }) as Record<string, unknown>;
  // OpenAPI 3.0 marks uploads with format: binary alone; contentEncoding is not allowed there.
  return JSON.parse(JSON.stringify(rest, (key, value: unknown) => (key === 'contentEncoding' ? undefined : value))) as OpenAPIV3.SchemaObject;
}

/** An inline OpenAPI 3.0 schema of an answer (no $defs: registered ids are not extracted). */
export function inline(schema: z.ZodType): OpenAPIV3.SchemaObject {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'output', metadata: z.registry() }) as Record<string, unknown>;
  return rest as OpenAPIV3.SchemaObject;
}

export const BINARY_SCHEMA = { type: 'string', format: 'binary' } as const;
