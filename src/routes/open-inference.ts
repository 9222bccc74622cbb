/**
 * The Open Inference Protocol (KServe V2 REST) beside the native API, registered under /v2:
 * server and model metadata, health, inference with the binary tensor data extension, and
 * the model repository extension. Thin: the tensors are read and written in
 * protocols/open-inference, the work is the dataplane's (same traffic policy, leases,
 * scheduler, batching, cache, auth, rate limits, shedding). This scope's error handler
 * answers `{"error": "<message>"}` (protocols/open-inference/errors.ts).
 */
import { annotate } from '../http/request-log.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Config } from '../config.js';
import { errorHandler, noRoute, sentContentType, type RequestLimits } from '../http/problems.js';
import type { RouteMethods } from '../http/route-methods.js';
import { SECURITY } from '../plugins/app/auth.js';
import shedding from '../plugins/external/under-pressure.js';
import { v2Errors } from '../protocols/open-inference/errors.js';
import { inferTensors, modelTensors } from '../protocols/open-inference/models.js';
import { loadModel, refuseParameters, repositoryIndex, unloadModel } from '../protocols/open-inference/repository.js';
import { encodeInferenceResponse, parseInferenceRequest } from '../protocols/open-inference/tensors.js';
import { unavailable } from '../serving/errors.js';
import { clientKey } from './client-key.js';
import { encodedBodyLimit } from './targets.js';
import {
  v2ErrorResponses,
  v2InferenceResponseSchema,
  v2LiveSchema,
  v2LoadResultSchema,
  v2ModelMetadataSchema,
  v2ModelReadySchema,
  v2ReadySchema,
  v2RepositoryActionSchema,
  v2RepositoryIndexRequestSchema,
  v2RepositoryIndexSchema,
  v2ServerMetadataSchema,
} from '../schemas/open-inference.js';

export interface OpenInferenceOptions {
  config: Config;
  name: string;
  version: string;
  limits: RequestLimits;
  /** Every route of the app, for 405 answers. */
  routes: RouteMethods;
}

/** The extensions this server speaks, as Triton names them. */
const V2_EXTENSIONS = ['binary_tensor_data', 'model_repository'];

const HEADER_LENGTH = 'inference-header-content-length';

const modelParams = z.object({ name: z.string().describe('Model name') });
const versionParams = z.object({ name: z.string().describe('Model name'), version: z.string().describe('Model version (a positive integer)') });

/** The protocol's model paths, with and without a version. */
const TARGETS = [
  { prefix: '/models/:name', params: modelParams, what: "the model's default version" },
  { prefix: '/models/:name/versions/:version', params: versionParams, what: 'that version' },
] as const;


/**
 * The protocol's bodies are JSON, or JSON plus binary data when Inference-Header-Content-Length
 * is sent, whatever the Content-Type says: Triton's client sends none, and `curl -d` sends
 * application/x-www-form-urlencoded. As Triton does, the header decides, not the media type.
 */
async function protocolContentType(request: FastifyRequest): Promise<void> {
  const headers = request.headers;
  const hasBody = headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');
  sentContentType.set(request.raw, headers['content-type'] ?? '');
  if (!hasBody) delete headers['content-type'];
  else headers['content-type'] = headers[HEADER_LENGTH] !== undefined ? 'application/octet-stream' : 'application/json';
}

const openInferenceRoutes: FastifyPluginAsyncZod<OpenInferenceOptions> = async (app, opts) => {
  const { config } = opts;
  const repo = app.models.repository;
  // Which protocol a request speaks comes from this scope: its routes, errors and 404s.
  app.addHook('onRoute', (route) => {
    route.config = { ...route.config, protocol: 'v2' };
  });
  app.setErrorHandler(errorHandler(v2Errors, opts.limits));
  app.setNotFoundHandler((request, reply) => v2Errors.send(request, reply, noRoute(request, opts.routes)));
  const guarded = app.apiKeys.enabled;
  const security = guarded ? { security: SECURITY } : {};
  const authErrors: number[] = guarded ? [401] : [];
  const tags = ['open inference protocol'];

  const serverMetadata = {
    schema: { tags, summary: 'Server metadata: name, version and the extensions spoken', response: { 200: v2ServerMetadataSchema } },
  };
  const metadataHandler = async () => ({ name: opts.name, version: opts.version, extensions: V2_EXTENSIONS });
  app.get('', serverMetadata, metadataHandler);
  app.get('/', { prefixTrailingSlash: 'slash', schema: { ...serverMetadata.schema, hide: true } }, metadataHandler);

  app.get(
    '/health/live',
    { schema: { tags, summary: 'Liveness: 200 while the process answers (a Kubernetes livenessProbe)', response: { 200: v2LiveSchema } } },
    async () => ({ live: true }),
  );

  app.get(
    '/health/ready',
    {
      schema: {
        tags,
        summary: 'Readiness: 200 once every model that is not unloaded has a version serving (a Kubernetes readinessProbe)',
        response: { 200: v2ReadySchema, ...v2ErrorResponses(503) },
      },
    },
    async () => {
      if (app.lifecycle.shuttingDown) throw unavailable('the server is shutting down', 5);
      if (!repo.startupSettled) throw unavailable('the model repository is still loading', 2);
      if (!app.models.hostsRunning()) throw unavailable('no inference host is running; they are being restarted', 2);
      const waiting = repo.list().filter((m) => !repo.isUnloaded(m.name) && !repo.isReady(m.name));
      if (waiting.length > 0) throw unavailable(`no version of ${waiting.map((m) => `'${m.name}'`).join(', ')} is serving (see POST /v2/repository/index)`, 5);
      return { ready: true };
    },
  );

  for (const target of TARGETS) {
    app.get(
      target.prefix,
      {
        schema: {
          tags,
          summary: `Model metadata of ${target.what}: platform, input and output tensors`,
          params: target.params,
          response: { 200: v2ModelMetadataSchema, ...v2ErrorResponses(400, 404, 503) },
        },
      },
      async (request) => {
        const { name, version } = request.params as { name: string; version?: string };
        const lease = repo.acquire(name, version);
        try {
          const versions = repo.status(name).versions.filter((v) => v.state === 'AVAILABLE').map((v) => v.version);
          return { name: lease.name, versions, ...modelTensors(lease.value) };
        } finally {
          lease.release();
        }
      },
    );

    app.get(
      `${target.prefix}/ready`,
      {
        schema: {
          tags,
          summary: `Whether ${target.what} is ready for inference: 200, or 503 with the reason`,
          params: target.params,
          response: { 200: v2ModelReadySchema, ...v2ErrorResponses(400, 404, 503) },
        },
      },
      async (request) => {
        const { name, version } = request.params as { name: string; version?: string };
        repo.acquire(name, version).release();
        return { name, ready: true };
      },
    );
  }

  // Inference is shed under pressure like /predict; metadata and health keep answering.
  await app.register(async (scope) => {
    await scope.register(shedding, { config });
    const auth = guarded ? [protocolContentType, app.authenticate] : [protocolContentType];
    for (const target of TARGETS) {
      scope.post(
        `${target.prefix}/infer`,
        {
          bodyLimit: encodedBodyLimit(config.MAX_BATCH_UPLOAD_BYTES),
          onRequest: auth,
          schema: {
            ...security,
            tags,
            summary: `Inference with ${target.what}: JSON tensors, or JSON plus binary tensor data`,
            description:
              'The request is `{"id"?, "parameters"?, "inputs": [{"name", "shape", "datatype", "data" | "parameters": {"binary_data_size"}}], "outputs"?: [{"name", "parameters"?: {"binary_data"}}]}`. Image classifiers take `image` as BYTES [N] (encoded files; base64 text in JSON) or UINT8 [N, H, W, 3] (RGB pixels) and give `probabilities` FP32 [N, C] and `label` BYTES [N]; tabular models take `features` FP32 or FP64 [N, F] and give `probabilities` + `label` or `prediction` FP32 [N]. Binary tensor data (Triton\'s extension): send `Inference-Header-Content-Length: <bytes of JSON>` and the inputs\' bytes after the JSON, little-endian, row-major, BYTES elements with a 4-byte length prefix; ask for binary outputs with `binary_data: true` on an output or `binary_data_output: true` on the request. At most MAX_BATCH_FILES inputs per request; the body limit is that of /predict/batch.',
            params: target.params,
            consumes: ['application/json', 'application/octet-stream'],
            response: { 200: v2InferenceResponseSchema, ...v2ErrorResponses(400, ...authErrors, 404, 413, 429, 500, 503) },
          },
        },
        async (request: FastifyRequest, reply: FastifyReply) => {
          const started = performance.now();
          const header = request.headers[HEADER_LENGTH];
          const parsed = parseInferenceRequest(request.body, Array.isArray(header) ? header.join(',') : header);
          const { name, version } = request.params as { name: string; version?: string };
          // Unversioned requests follow the model's traffic policy, as on the native routes.
          const exchange = app.dataplane.hold({ name, ...(version !== undefined && { version }), clientKey: clientKey(request, app.identifyKey(request)) });
          const model = exchange.model;
          reply.header('x-model-version', model.version);
          reply.raw.once('finish', () => setImmediate(() => exchange.sent()));
          try {
            const result = await inferTensors(exchange, parsed, config.MAX_BATCH_FILES);
            const head = {
              model_name: model.name,
              model_version: model.version,
              ...(parsed.id !== undefined && { id: parsed.id }),
              ...(result.parameters && { parameters: result.parameters }),
            };
            const encoded = encodeInferenceResponse(head, result.outputs);
            const latency = Math.round((performance.now() - started) * 100) / 100;
            annotate(request, () => ({ inference: { model: model.name, version: model.version, inputs: parsed.inputs[0]?.shape[0] ?? 0, binary: encoded.kind === 'binary', latency_ms: latency } }));
            if (encoded.kind === 'json') return await reply.type('application/json; charset=utf-8').send(JSON.stringify(encoded.body));
            return await reply.type('application/octet-stream').header(HEADER_LENGTH, String(encoded.headerLength)).send(encoded.body);
          } finally {
            exchange.release();
          }
        },
      );
    }
  });

  // The model repository extension, behind the admin keys of the native admin routes.
  const admin = { onRequest: [protocolContentType, app.authenticateAdmin] };
  const adminDescription = 'Needs a key from ADMIN_API_KEYS (Authorization: Bearer <key> or X-API-Key); with none configured it answers 403.';

  app.post(
    '/repository/index',
    {
      ...admin,
      schema: {
        tags,
        summary: 'Every model version in the repository with its state (Triton: READY, LOADING, UNLOADING, UNAVAILABLE) and reason',
        description: adminDescription,
        security: SECURITY,
        body: v2RepositoryIndexRequestSchema.nullish(),
        response: { 200: v2RepositoryIndexSchema, ...v2ErrorResponses(400, 401, 403) },
      },
    },
    async (request) => repositoryIndex(repo, request.body?.ready ?? undefined),
  );

  /** Load or unload: the same route shape, answered once the repository has done it. */
  const action = (verb: 'load' | 'unload', summary: string, run: (name: string) => Promise<{ name: string; load?: true; unload?: true }>) =>
    app.post(
      `/repository/models/:name/${verb}`,
      {
        ...admin,
        schema: {
          tags,
          summary,
          description: adminDescription,
          security: SECURITY,
          params: modelParams,
          body: v2RepositoryActionSchema.nullish(),
          response: { 200: v2LoadResultSchema, ...v2ErrorResponses(400, 401, 403, 404) },
        },
      },
      async (request) => {
        refuseParameters(Object.keys(request.body?.parameters ?? {}));
        return run(request.params.name);
      },
    );

  action('load', 'Load (or reload) a model from the repository: 200 once a version serves, 400 with the reason when none could be loaded', async (name) => ({ name: await loadModel(repo, name), load: true }));
  action('unload', 'Unload every version of a model (after in-flight requests finish) until the next load', async (name) => ({ name: await unloadModel(repo, name), unload: true }));
};

export default openInferenceRoutes;
