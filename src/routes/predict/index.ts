import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
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

/** POST /predict and POST /predict/batch. */
const predictRoutes: FastifyPluginAsyncZod<{ config: Config }> = async (app, { config }) => {
  await app.register(shedding, { config });
  const guarded = app.apiKeys.enabled;
  const auth = guarded ? { onRequest: app.authenticate } : {};
  const security = guarded ? { security: SECURITY } : {};
  const authErrors: number[] = guarded ? [401] : [];
  app.post(
    '/predict',
    {
      bodyLimit: Math.ceil(config.MAX_UPLOAD_BYTES * BASE64_OVERHEAD) + 64 * 1024,
      ...auth,
      schema: {
        ...security,
        tags: ['inference'],
        summary: 'Classify one image',
        description:
          "Send the image as multipart field `file` (`curl -F file=@cat.jpg`), as JSON `{\"image\": \"<base64>\"}`, or as a raw `image/*` body. The real format is detected from the bytes.",
        consumes: ['multipart/form-data', 'application/json', 'image/*', 'application/octet-stream'],
        querystring: predictQuerySchema,
        response: { 200: predictionSchema, ...problemResponses(400, ...authErrors, 404, 413, 415, 422, 429, 500, 503) },
      },
    },
    async (request, reply) => {
      const started = performance.now();
      const model = app.predictor.resolve();
      const input = await readSingleImage(request);
      const result = await app.predictor.predict(model, input, request.query.top_k ?? config.DEFAULT_TOP_K);
      const latency = round(performance.now() - started);
      request.log.info(
        { prediction: { label: result.class_label, confidence: result.confidence, latency_ms: latency, format: result.format, cached: result.cached, model: model.name } },
        'prediction',
      );
      if (app.predictor.cacheEnabled) reply.header('x-cache', result.cached ? 'HIT' : 'MISS');
      const { format: _format, ...prediction } = result;
      return { ...prediction, model: { name: model.name, version: model.version }, latency_ms: latency };
    },
  );

  app.post(
    '/predict/batch',
    {
      bodyLimit: Math.ceil(config.MAX_BATCH_UPLOAD_BYTES * BASE64_OVERHEAD) + 64 * 1024,
      ...auth,
      schema: {
        ...security,
        tags: ['inference'],
        summary: `Classify up to MAX_BATCH_FILES images (default 32) in one request`,
        description:
          'Send images as repeated multipart fields `files`, or JSON `{"images": ["<base64>", ...]}`. Results come back in request order; an image that cannot be used gets an `error` entry and does not fail the others. Valid images run through the model as one batch.',
        consumes: ['multipart/form-data', 'application/json'],
        querystring: predictQuerySchema,
        response: { 200: batchResponseSchema, ...problemResponses(400, ...authErrors, 404, 413, 415, 429, 500, 503) },
      },
    },
    async (request, reply) => {
      const started = performance.now();
      const model = app.predictor.resolve();
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
        { batch: { images: inputs.length, ok: ok.length, labels: ok.map((o) => (o.ok ? o.value.class_label : null)), latency_ms: latency, model: model.name } },
        'batch prediction',
      );
      return { predictions, model: { name: model.name, version: model.version }, latency_ms: latency };
    },
  );
};

export default predictRoutes;
