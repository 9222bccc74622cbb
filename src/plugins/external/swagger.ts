import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import fp from 'fastify-plugin';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import type { OpenAPIV3 } from 'openapi-types';
import { BINARY_SCHEMA, jsonSchema } from '../../http/openapi-schema.js';
import { inferenceRequestSchema } from '../../protocols/open-inference/tensors.js';

/** One realistic example per error status (the Problem schema itself carries none). */
const PROBLEM_EXAMPLES: Record<string, { slug: string; title: string; detail: string; instance: string }> = {
  '400': { slug: 'missing-file', title: 'Bad Request', detail: "the multipart body has no file; send the image in the field 'file'", instance: '/predict' },
  '401': { slug: 'unauthorized', title: 'Unauthorized', detail: 'an API key is required: send Authorization: Bearer <key> or X-API-Key: <key>', instance: '/predict' },
  '403': { slug: 'admin-disabled', title: 'Forbidden', detail: 'the admin API is disabled: set ADMIN_API_KEYS to enable it', instance: '/v1/models/cifar10/reload' },
  '404': { slug: 'unknown-model', title: 'Not Found', detail: "no model named 'resnet' in the repository", instance: '/v1/models/resnet/predict' },
  '409': { slug: 'revision-conflict', title: 'Conflict', detail: 'config.json is at revision 5, not 4: it was changed since it was read; read it again', instance: '/v1/models/iris/traffic' },
  '413': { slug: 'payload-too-large', title: 'Payload Too Large', detail: 'a file is larger than MAX_UPLOAD_BYTES (10485760 bytes)', instance: '/predict' },
  '415': { slug: 'unsupported-image', title: 'Unsupported Media Type', detail: "image format 'svg' is not supported; send one of jpeg, png, webp, gif, tiff, avif", instance: '/predict' },
  '422': { slug: 'undecodable-image', title: 'Unprocessable Entity', detail: 'the jpeg image could not be decoded: premature end of JPEG image', instance: '/predict' },
  '429': { slug: 'rate-limited', title: 'Too Many Requests', detail: 'more than 600 requests in 1 minute; retry later', instance: '/predict' },
  '500': { slug: 'internal', title: 'Internal Server Error', detail: 'an unexpected error occurred; quote the request_id when reporting it', instance: '/predict' },
  '503': { slug: 'not-ready', title: 'Service Unavailable', detail: "model 'cifar10' is still loading", instance: '/predict' },
};

/** What each 2xx body is, by its component (fastify-swagger would say "Default Response"). */
const SUCCESS_DESCRIPTIONS: Record<string, string> = {
  Prediction: 'The prediction, with the model version that made it',
  BatchPrediction: 'One entry per image, in request order',
  ModelList: 'Every model with its versions and their states',
  ModelEntry: "The model's versions and their states after the operation",
  ModelDetail: "The model's versions and its default version's metadata",
  VersionDetail: "The version's state and metadata",
  ModelReady: 'The model can serve requests that name no version',
  V2ServerMetadata: 'Server metadata',
  V2ServerLive: 'The server is live',
  V2ServerReady: 'Every model that is not unloaded has a version serving',
  V2ModelMetadata: 'Model metadata',
  V2ModelReady: 'The model (version) is ready',
  V2InferenceResponse: 'The outputs; with binary outputs, application/octet-stream: this JSON (Inference-Header-Content-Length bytes), then the outputs\' bytes',
  V2RepositoryIndex: 'Every model version and its state',
  V2LoadResult: 'Done',
  Health: 'The process answers',
  Ready: 'Ready to serve',
  ServiceInfo: 'Service information',
  MetricsSummary: 'Prometheus text exposition, or this summary for Accept: application/json',
};

/**
 * Fixes to the generated document: the prediction routes' several body encodings; error
 * responses as application/problem+json with an example of their own status; 2xx responses
 * described; and only the component schemas that are used (the zod provider emits an
 * `…Input` twin of every registered schema, which responses never reference).
 */
function finish(doc: OpenAPIV3.Document, bodies: KindBodies): OpenAPIV3.Document {
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const op of Object.values(item ?? {}) as OpenAPIV3.OperationObject[]) {
      if (typeof op !== 'object' || op === null || !('responses' in op)) continue;
      if (path.endsWith('/predict') || path.endsWith('/explain')) op.requestBody = bodies.predict;
      if (path.endsWith('/predict/batch')) op.requestBody = bodies.batch;
      if (path.startsWith('/v2/') && path.endsWith('/infer')) op.requestBody = INFER_BODY;
      for (const [status, response] of Object.entries(op.responses) as [string, OpenAPIV3.ResponseObject][]) {
        const content = response.content ?? {};
        if (Number(status) >= 400 && path.startsWith('/v2')) {
          // The Open Inference Protocol's errors are {"error": "<message>"}, as it specifies.
          const ex = PROBLEM_EXAMPLES[status];
          // A code span: Swagger UI renders descriptions as Markdown, where a bare <message> is an HTML tag and vanishes.
          response.description = ex ? `${ex.title}: \`{"error": "<message>"}\`` : 'Error: `{"error": "<message>"}`';
          const schema = content['application/json']?.schema;
          response.content = { 'application/json': { ...(schema ? { schema } : {}), ...(ex ? { example: { error: ex.detail } } : {}) } };
        } else if (Number(status) >= 400) {
          const schema = content['application/json']?.schema ?? content['application/problem+json']?.schema;
          const ex = PROBLEM_EXAMPLES[status];
          response.content = {
            'application/problem+json': {
              ...(schema ? { schema } : {}),
              ...(ex ? { example: { type: `urn:ml-inference-api:problem:${ex.slug}`, title: ex.title, status: Number(status), detail: ex.detail, instance: ex.instance, request_id: '5b0f3b7e-3c2a-4d55-9c1e-0a8f1f3f2b11' } } : {}),
            },
          };
        } else if (response.description === 'Default Response') {
          const ref = Object.values(content)[0]?.schema;
          const name = ref && '$ref' in ref ? ref.$ref.split('/').at(-1) : undefined;
          response.description = (name && SUCCESS_DESCRIPTIONS[name]) ?? 'OK';
        }
      }
    }
  }
  const schemas = doc.components?.schemas ?? {};
  const { schemas: _all, ...rest } = doc.components ?? {};
  const used = JSON.stringify({ ...doc, components: rest });
  let grew = true;
  const keep = new Set<string>();
  // A used schema may reference others: follow references until nothing new is found.
  while (grew) {
    grew = false;
    const text = used + JSON.stringify([...keep].map((k) => schemas[k]));
    for (const name of Object.keys(schemas)) {
      if (!keep.has(name) && text.includes(`"#/components/schemas/${name}"`)) {
        keep.add(name);
        grew = true;
      }
    }
  }
  for (const name of Object.keys(schemas)) if (!keep.has(name)) delete schemas[name];
  return doc;
}

/** The request bodies of /predict and /predict/batch: every kind's encodings. */
export type KindBodies = Record<'predict' | 'batch', OpenAPIV3.RequestBodyObject>;

const INFER_BODY: OpenAPIV3.RequestBodyObject = {
  required: true,
  description: "An Open Inference Protocol inference request; with binary tensor data, this JSON (Inference-Header-Content-Length bytes) followed by the inputs' bytes",
  content: {
    'application/json': { schema: jsonSchema(inferenceRequestSchema) },
    'application/octet-stream': { schema: BINARY_SCHEMA },
  },
};

export interface SwaggerOptions {
  version: string;
  enableUi: boolean;
  bodies: KindBodies;
}

export default fp<SwaggerOptions>(
  async (app, opts) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: {
          title: 'ml-inference-api',
          description:
            'A model server: a repository of named, versioned models (image classifiers, tabular models) on ONNX Runtime or TensorFlow.js, reloaded live. The native API answers errors as RFC 9457 problem details; the Open Inference Protocol (KServe V2) routes under /v2 as `{"error": "<message>"}`.',
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
          { name: 'open inference protocol', description: 'The Open Inference Protocol (KServe V2 REST), with the binary tensor data and model repository extensions; errors are `{"error": "<message>"}`' },
        ],
      },
      transform: jsonSchemaTransform,
      transformObject: (doc) => finish(jsonSchemaTransformObject(doc) as OpenAPIV3.Document, opts.bodies),
    });
    if (opts.enableUi) {
      // queryConfigEnabled (a Swagger UI option the plugin's types do not list): /docs/?url=
      // /v1/models/{name}/openapi.json shows one model's own document; the page's CSP
      // (connect-src 'self') keeps it from fetching documents from other origins.
      const uiConfig = { docExpansion: 'list' as const, tryItOutEnabled: true, persistAuthorization: true, queryConfigEnabled: true };
      // The UI page has no inline scripts, so helmet's strict policy ('self' only) covers it too.
      await app.register(swaggerUi, {
        routePrefix: '/docs',
        uiConfig,
      });
    }
  },
  { name: 'swagger' },
);
