import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import fp from 'fastify-plugin';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import type { OpenAPIV3 } from 'openapi-types';
import { z } from 'zod';
import { batchJsonBodySchema, batchMultipartBodySchema, predictJsonBodySchema, predictMultipartBodySchema } from '../../schemas/predict.js';

const binary = { type: 'string', format: 'binary' } as const;

/** Inline OpenAPI schema of a request body (these body schemas carry no component id). */
function jsonSchema(schema: z.ZodType): OpenAPIV3.SchemaObject {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input' }) as Record<string, unknown>;
  // OpenAPI 3.0 marks uploads with format: binary alone; contentEncoding is not allowed there.
  return JSON.parse(JSON.stringify(rest, (key, value: unknown) => (key === 'contentEncoding' ? undefined : value))) as OpenAPIV3.SchemaObject;
}

/**
 * The prediction routes take several body encodings, which a single route body schema cannot
 * describe; their request bodies are generated here from the same zod schemas the handlers use.
 */
function requestBodies(): Record<string, OpenAPIV3.RequestBodyObject> {
  return {
    '/predict': {
      required: true,
      content: {
        'multipart/form-data': { schema: jsonSchema(predictMultipartBodySchema) },
        'application/json': { schema: jsonSchema(predictJsonBodySchema) },
        'image/*': { schema: binary },
        'application/octet-stream': { schema: binary },
      },
    },
    '/predict/batch': {
      required: true,
      content: {
        'multipart/form-data': { schema: jsonSchema(batchMultipartBodySchema) },
        'application/json': { schema: jsonSchema(batchJsonBodySchema) },
      },
    },
  };
}

export interface SwaggerOptions {
  version: string;
  enableUi: boolean;
}

export default fp<SwaggerOptions>(
  async (app, opts) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: {
          title: 'ml-inference-api',
          description:
            'A model server for image classifiers: a repository of named, versioned models (TensorFlow.js), reloaded live. Errors are RFC 9457 problem details.',
          version: opts.version,
        },
        components: {
          // Used by the protected routes when API keys are configured; Swagger UI's Authorize button fills them.
          securitySchemes: {
            bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key from API_KEYS (an admin key from ADMIN_API_KEYS on admin routes), as a bearer token' },
            apiKeyAuth: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'An API key from API_KEYS (an admin key from ADMIN_API_KEYS on admin routes)' },
          },
        },
        tags: [
          { name: 'inference', description: 'Classify images with the default model, a model, or a model version' },
          { name: 'models', description: 'The model repository: models, versions and their states' },
          { name: 'admin', description: 'Load, unload and reload models (ADMIN_API_KEYS)' },
          { name: 'service', description: 'Health, readiness and service information' },
        ],
      },
      transform: jsonSchemaTransform,
      transformObject: (doc) => {
        const out = jsonSchemaTransformObject(doc) as OpenAPIV3.Document;
        for (const [path, body] of Object.entries(requestBodies())) {
          const post = out.paths?.[path]?.post;
          if (post) post.requestBody = body;
        }
        return out;
      },
    });
    if (opts.enableUi) {
      // The UI page has no inline scripts, so helmet's strict policy ('self' only) covers it too.
      await app.register(swaggerUi, {
        routePrefix: '/docs',
        uiConfig: { docExpansion: 'list', tryItOutEnabled: true, persistAuthorization: true },
      });
    }
  },
  { name: 'swagger' },
);
