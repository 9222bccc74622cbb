/** The application as a plugin: tests register it with their own config, server.ts with the real one. */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Config } from './config.js';
import { ProblemError, problemType } from './errors.js';
import lifecycle from './plugins/app/lifecycle.js';
import auth from './plugins/app/auth.js';
import cache from './plugins/app/cache.js';
import metrics from './plugins/app/metrics.js';
import models from './plugins/app/models.js';
import predictor from './plugins/app/predictor.js';
import multipart from './plugins/external/multipart.js';
import rateLimit from './plugins/external/rate-limit.js';
import security from './plugins/external/security.js';
import swagger from './plugins/external/swagger.js';
import metricsRoutes from './routes/metrics.js';
import predictRoutes from './routes/predict/index.js';
import serviceRoutes from './routes/service.js';
import { readApiKeys } from './auth/api-keys.js';
import { readPackageInfo } from './version.js';

export interface AppOptions {
  config: Config;
}

const FASTIFY_SLUGS: Record<string, string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported-media-type',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload-too-large',
  FST_REQ_FILE_TOO_LARGE: 'payload-too-large',
  FST_FILES_LIMIT: 'payload-too-large',
  FST_PARTS_LIMIT: 'payload-too-large',
  FST_FIELDS_LIMIT: 'payload-too-large',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid-body',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid-body',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'invalid-body',
};

interface RenderedProblem {
  status: number;
  slug: string;
  title?: string;
  detail: string;
  headers?: Record<string, string>;
}

function classify(error: FastifyError | ProblemError | Error): RenderedProblem | undefined {
  if (error instanceof ProblemError) return { status: error.status, slug: error.slug, detail: error.message, headers: error.headers };
  if (hasZodFastifySchemaValidationErrors(error) || ('validation' in error && error.validation)) {
    return { status: 400, slug: 'invalid-request', detail: error.message };
  }
  const status = 'statusCode' in error ? error.statusCode : undefined;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code = 'code' in error ? String(error.code) : '';
    const mapped = status === 406 ? 400 : status;
    return { status: mapped, slug: FASTIFY_SLUGS[code] ?? (mapped === 400 ? 'invalid-body' : 'client-error'), detail: error.message };
  }
  return undefined;
}

/** Send an RFC 9457 problem with the request id. */
export function sendProblem(request: FastifyRequest, reply: FastifyReply, p: RenderedProblem): FastifyReply {
  const title = p.title ?? new ProblemError(p.status, p.slug, '').title;
  // Absent only when the app failed before its metrics were set up.
  if (request.server.hasDecorator('metrics')) request.server.metrics.recordError(p.slug, p.status);
  return reply
    .code(p.status)
    .headers(p.headers ?? {})
    .type('application/problem+json')
    .send({ type: problemType(p.slug), title, status: p.status, detail: p.detail, instance: request.url.split('?')[0], request_id: request.id });
}

export default async function app(fastify: FastifyInstance, { config }: AppOptions): Promise<void> {
  const pkg = readPackageInfo();
  fastify.setValidatorCompiler(validatorCompiler);
  fastify.setSerializerCompiler(serializerCompiler);

  const rawBody = (_req: FastifyRequest, body: Buffer | string, done: (err: Error | null, body?: unknown) => void): void => done(null, body);
  // Only JSON, multipart and image bodies are accepted; text/plain is answered with 415.
  fastify.removeContentTypeParser('text/plain');
  fastify.addContentTypeParser(/^image\/[\w.+-]+$/, { parseAs: 'buffer' }, rawBody);
  fastify.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, rawBody);

  fastify.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    if (fastify.lifecycle.refusing && request.url !== '/health') {
      reply.header('connection', 'close');
      return sendProblem(request, reply, { status: 503, slug: 'shutting-down', detail: 'the server is shutting down', headers: { 'retry-after': '5' } });
    }
    return undefined;
  });

  // While shutting down, every response closes its connection, so keep-alive clients cannot
  // hold the server open after their in-flight request is answered.
  fastify.addHook('onSend', async (_request, reply, payload) => {
    if (fastify.lifecycle.shuttingDown) reply.header('connection', 'close');
    return payload;
  });

  fastify.setErrorHandler((error: FastifyError | Error, request, reply) => {
    const problem = classify(error);
    if (problem) {
      request.log.info({ status: problem.status, problem: problem.slug, detail: problem.detail }, 'request rejected');
      return sendProblem(request, reply, problem);
    }
    request.log.error({ err: error }, 'unhandled error');
    return sendProblem(request, reply, {
      status: 500,
      slug: 'internal',
      detail: 'an unexpected error occurred; quote the request_id when reporting it',
    });
  });

  fastify.setNotFoundHandler((request, reply) =>
    sendProblem(request, reply, { status: 404, slug: 'not-found', detail: `no route ${request.method} ${request.url.split('?')[0]}` }),
  );

  await fastify.register(security, { config });
  await fastify.register(auth, { keys: readApiKeys(config.API_KEYS, config.API_KEYS_FILE) });
  await fastify.register(rateLimit, { config });
  await fastify.register(multipart, { config });
  await fastify.register(swagger, { version: pkg.version, enableUi: config.DOCS_ENABLED });
  await fastify.register(lifecycle);
  await fastify.register(metrics);
  await fastify.register(models, {
    modelDirs: [config.MODEL_DIR],
    instances: {
      workers: config.INFERENCE_WORKERS,
      maxBatchSize: config.MAX_BATCH_SIZE,
      maxDelayMs: config.MAX_BATCH_DELAY_MS,
      maxQueue: config.MAX_QUEUE,
      backend: config.INFERENCE_BACKEND,
      warmupRuns: config.WARMUP_RUNS,
      workerNice: config.INFERENCE_WORKER_NICE,
    },
  });
  await fastify.register(cache, { config });
  await fastify.register(predictor, { limits: { maxInputPixels: config.MAX_INPUT_PIXELS, maxUploadBytes: config.MAX_UPLOAD_BYTES } });
  await fastify.register(serviceRoutes, { name: pkg.name, version: pkg.version, docs: config.DOCS_ENABLED });
  await fastify.register(predictRoutes, { config });
  await fastify.register(metricsRoutes, { protect: !config.METRICS_PUBLIC });
}
