/**
 * POST /predict and /predict/batch, for the default model, any model, and any version: a thin
 * adapter over the dataplane. The version's kind reads the body and shapes the answer; the
 * route names no kind.
 */
import { annotate } from '../../http/request-log.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Config } from '../../config.js';
import { nativeStatus } from '../../http/problems.js';
import { SECURITY } from '../../plugins/app/auth.js';
import shedding from '../../plugins/external/under-pressure.js';
import { batchResponseSchema, predictQuerySchema, predictResponseSchema } from '../../schemas/predict.js';
import { problemResponses } from '../../schemas/problem.js';
import type { Exchange } from '../../serving/dataplane.js';
import { clientKey } from '../client-key.js';
import { acceptTextBodies, nativeBody } from '../native-body.js';
import { encodedBodyLimit, MODEL_TARGETS } from '../targets.js';
import { STATUS_CODES } from 'node:http';

const round = (ms: number): number => Math.round(ms * 100) / 100;

const predictRoutes: FastifyPluginAsyncZod<{ config: Config }> = async (app, { config }) => {
  await app.register(shedding, { config });
  acceptTextBodies(app);
  const guarded = app.apiKeys.enabled;
  const auth = guarded ? { onRequest: app.authenticate } : {};
  const security = guarded ? { security: SECURITY } : {};
  const authErrors: number[] = guarded ? [401] : [];
  const answers = app.kinds.answerSchemas();
  const plane = app.dataplane;

  /**
   * Hold the version a request names for the whole request; a request naming none goes where
   * the model's traffic policy sends it (by weight, sticky per client), else to the default.
   * Shadow copies run once the answer has been sent (a turn later, once this request no
   * longer counts as work in hand).
   */
  const hold = (request: FastifyRequest, reply: FastifyReply): Exchange => {
    const params = (request.params ?? {}) as { name?: string; version?: string };
    const exchange = plane.hold({ name: params.name ?? app.models.defaultModel, ...(params.version !== undefined && { version: params.version }), clientKey: clientKey(request, app.identifyKey(request)) });
    reply.header('x-model-version', exchange.model.version);
    reply.raw.once('finish', () => setImmediate(() => exchange.sent()));
    return exchange;
  };

  const topK = (request: FastifyRequest): number => (request.query as { top_k?: number }).top_k ?? config.DEFAULT_TOP_K;

  for (const target of MODEL_TARGETS) {
    app.post(
      `${target.prefix}/predict`,
      {
        bodyLimit: encodedBodyLimit(config.MAX_UPLOAD_BYTES),
        ...auth,
        schema: {
          ...security,
          tags: ['inference'],
          summary: `Predict one input with ${target.what}`,
          description:
            "Image models: the image as multipart field `file` (`curl -F file=@cat.jpg`), as JSON `{\"image\": \"<base64>\"}`, or as a raw `image/*` body; the real format is detected from the bytes. Tabular models: JSON `{\"features\": [5.1, 3.5, 1.4, 0.2]}` in declared order, or `{\"features\": {\"sepal_length\": 5.1, ...}}` by name (see GET /v1/models/{name} for the features). Text models: JSON `{\"text\": \"...\"}` (or `{\"input\": \"...\"}`), a `text/plain` body, or a whole e-mail as `message/rfc822`. A classifier answers a class, a regressor `prediction`. The `X-Model-Version` header names the version that answered.",
          ...(target.params ? { params: target.params } : {}),
          consumes: ['multipart/form-data', 'application/json', 'image/*', 'application/octet-stream', 'text/plain', 'message/rfc822'],
          querystring: predictQuerySchema,
          response: { 200: predictResponseSchema(answers), ...problemResponses(400, ...authErrors, 404, 413, 415, 422, 429, 500, 503) },
        },
      },
      async (request, reply) => {
        const started = performance.now();
        const exchange = hold(request, reply);
        const model = exchange.model;
        try {
          const input = await model.kind.readSingle(nativeBody(request));
          const [outcome] = await exchange.infer([{ ok: true, value: input }]);
          if (!outcome!.ok) throw outcome!.error;
          const { output, cached, warnings, note, summary } = outcome!.value;
          if (plane.cacheEnabled) reply.header('x-cache', cached ? 'HIT' : 'MISS');
          const latency = round(performance.now() - started);
          annotate(request, () => {
            const logged = 'label' in summary ? { label: summary.label, confidence: summary.confidence } : { value: summary.value };
            const role = exchange.role;
            return { prediction: { ...logged, ...(note !== undefined && { format: note }), cached, warnings: warnings.length, latency_ms: latency, model: model.name, version: model.version, ...(role && { role }) } };
          });
          return { ...model.kind.answer(output, { topK: topK(request) }), cached, ...(warnings.length > 0 && { warnings }), model: { name: model.name, version: model.version }, latency_ms: latency };
        } finally {
          exchange.release();
        }
      },
    );

    app.post(
      `${target.prefix}/predict/batch`,
      {
        bodyLimit: encodedBodyLimit(config.MAX_BATCH_UPLOAD_BYTES),
        ...auth,
        schema: {
          ...security,
          tags: ['inference'],
          summary: `Predict up to MAX_BATCH_FILES inputs (default 32) in one request with ${target.what}`,
          description:
            'Image models: repeated multipart fields `files`, or JSON `{"images": ["<base64>", ...]}`. Tabular models: JSON `{"instances": [<row>, ...]}`, each row an array or an object as for /predict. Text models: JSON `{"instances": ["<text>", ...]}`. Results come back in request order; an input that cannot be used gets an `error` entry and does not fail the others. Valid inputs run through the model as one batch.',
          ...(target.params ? { params: target.params } : {}),
          consumes: ['multipart/form-data', 'application/json'],
          querystring: predictQuerySchema,
          response: { 200: batchResponseSchema(answers), ...problemResponses(400, ...authErrors, 404, 413, 415, 429, 500, 503) },
        },
      },
      async (request, reply) => {
        const started = performance.now();
        const exchange = hold(request, reply);
        const model = exchange.model;
        try {
          const entries = await model.kind.readBatch(nativeBody(request));
          const outcomes = await exchange.infer(entries.map((e) => e.input));
          const k = topK(request);
          const predictions = outcomes.map((outcome, index) => {
            const filename = entries[index]!.filename;
            if (outcome.ok) {
              const { output, cached, warnings } = outcome.value;
              return { index, filename, ...model.kind.answer(output, { topK: k }), cached, ...(warnings.length > 0 && { warnings }) };
            }
            const { code, message, details } = outcome.error;
            const status = nativeStatus(code);
            return { index, filename, error: { status, title: STATUS_CODES[status] ?? 'Error', detail: message, ...details } };
          });
          const latency = round(performance.now() - started);
          const ok = outcomes.filter((o) => o.ok);
          if (plane.cacheEnabled) reply.header('x-cache-hits', String(ok.filter((o) => o.value.cached).length));
          annotate(request, () => ({ batch: { inputs: predictions.length, ok: ok.length, latency_ms: latency, model: model.name, version: model.version } }));
          return { predictions, model: { name: model.name, version: model.version }, latency_ms: latency };
        } finally {
          exchange.release();
        }
      },
    );
  }
};

export default predictRoutes;
