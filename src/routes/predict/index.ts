import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Config } from '../../config.js';
import { batchResponseSchema, predictionSchema, predictQuerySchema } from '../../schemas/predict.js';
import { problemResponses } from '../../schemas/problem.js';
import { SECURITY } from '../../plugins/app/auth.js';
import shedding from '../../plugins/external/under-pressure.js';
import { readBatchImages, readSingleImage } from './inputs.js';

const BASE64_OVERHEAD = 4 / 3;

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

const nameParam = z.string().describe('Model name');
const versionParam = z.string().describe('Model version (a positive integer)');

/** The three places a prediction route lives: the default model, a model, a model version. */
const TARGETS = [
  { prefix: '', params: undefined, what: 'the default model (DEFAULT_MODEL)' },
  { prefix: '/v1/models/:name', params: z.object({ name: nameParam }), what: "the model's default version" },
  { prefix: '/v1/models/:name/versions/:version', params: z.object({ name: nameParam, version: versionParam }), what: 'that version' },
] as const;

/** POST /predict and /predict/batch, for the default model, any model, and any version. */
const predictRoutes: FastifyPluginAsyncZod<{ config: Config }> = async (app, { config }) => {
  await app.register(shedding, { config });
  const guarded = app.apiKeys.enabled;
  const auth = guarded ? { onRequest: app.authenticate } : {};
  const security = guarded ? { security: SECURITY } : {};
  const authErrors: number[] = guarded ? [401] : [];
  /** Hold the version a request names (or the default) for the whole request. */
  const hold = (request: FastifyRequest, reply: FastifyReply) => {
    const params = (request.params ?? {}) as { name?: string; version?: string };
    const lease = app.models.repository.acquire(params.name ?? app.models.defaultModel, params.version);
    reply.header('x-model-version', lease.version);
    return lease;
  };

  for (const target of TARGETS) {
    app.post(
      `${target.prefix}/predict`,
      {
        bodyLimit: Math.ceil(config.MAX_UPLOAD_BYTES * BASE64_OVERHEAD) + 64 * 1024,
        ...auth,
        schema: {
          ...security,
          tags: ['inference'],
          summary: `Classify one image with ${target.what}`,
          description:
            "Send the image as multipart field `file` (`curl -F file=@cat.jpg`), as JSON `{\"image\": \"<base64>\"}`, or as a raw `image/*` body. The real format is detected from the bytes. The `X-Model-Version` header names the version that answered.",
          ...(target.params ? { params: target.params } : {}),
          consumes: ['multipart/form-data', 'application/json', 'image/*', 'application/octet-stream'],
          querystring: predictQuerySchema,
          response: { 200: predictionSchema, ...problemResponses(400, ...authErrors, 404, 413, 415, 422, 429, 500, 503) },
        },
      },
      async (request, reply) => {
        const started = performance.now();
        const lease = hold(request, reply);
        const model = lease.value;
        try {
          const input = await readSingleImage(request);
          const result = await app.predictor.predict(model, input, request.query.top_k ?? config.DEFAULT_TOP_K);
          const latency = round(performance.now() - started);
          request.log.info(
            { prediction: { label: result.class_label, confidence: result.confidence, latency_ms: latency, format: result.format, cached: result.cached, model: model.name, version: model.version } },
            'prediction',
          );
          if (app.predictor.cacheEnabled) reply.header('x-cache', result.cached ? 'HIT' : 'MISS');
          const { format: _format, ...prediction } = result;
          return { ...prediction, model: { name: model.name, version: model.version }, latency_ms: latency };
        } finally {
          lease.release();
        }
      },
    );

    app.post(
      `${target.prefix}/predict/batch`,
      {
        bodyLimit: Math.ceil(config.MAX_BATCH_UPLOAD_BYTES * BASE64_OVERHEAD) + 64 * 1024,
        ...auth,
        schema: {
          ...security,
          tags: ['inference'],
          summary: `Classify up to MAX_BATCH_FILES images (default 32) in one request with ${target.what}`,
          description:
            'Send images as repeated multipart fields `files`, or JSON `{"images": ["<base64>", ...]}`. Results come back in request order; an image that cannot be used gets an `error` entry and does not fail the others. Valid images run through the model as one batch.',
          ...(target.params ? { params: target.params } : {}),
          consumes: ['multipart/form-data', 'application/json'],
          querystring: predictQuerySchema,
          response: { 200: batchResponseSchema, ...problemResponses(400, ...authErrors, 404, 413, 415, 429, 500, 503) },
        },
      },
      async (request, reply) => {
        const started = performance.now();
        const lease = hold(request, reply);
        const model = lease.value;
        try {
          const inputs = await readBatchImages(request, config.MAX_BATCH_FILES, config.MAX_BATCH_UPLOAD_BYTES);
          const outcomes = await app.predictor.predictBatch(model, inputs, request.query.top_k ?? config.DEFAULT_TOP_K);
          const latency = round(performance.now() - started);
          const predictions = outcomes.map((outcome, index) => {
            const filename = inputs[index]!.filename;
            if (!outcome.ok) {
              return { index, filename, error: { status: outcome.error.status, title: outcome.error.title, detail: outcome.error.message } };
            }
            const { format: _format, ...prediction } = outcome.value;
            return { index, filename, ...prediction };
          });
          const ok = outcomes.filter((o) => o.ok);
          if (app.predictor.cacheEnabled) reply.header('x-cache-hits', String(ok.filter((o) => o.ok && o.value.cached).length));
          request.log.info(
            { batch: { images: inputs.length, ok: ok.length, labels: ok.map((o) => (o.ok ? o.value.class_label : null)), latency_ms: latency, model: model.name, version: model.version } },
            'batch prediction',
          );
          return { predictions, model: { name: model.name, version: model.version }, latency_ms: latency };
        } finally {
          lease.release();
        }
      },
    );
  }
};

export default predictRoutes;
