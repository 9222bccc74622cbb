import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Config } from '../../config.js';
import type { ServedVersion } from '../../inference/served-version.js';
import { batchResponseSchema, predictQuerySchema, predictResponseSchema } from '../../schemas/predict.js';
import { problemResponses } from '../../schemas/problem.js';
import { SECURITY } from '../../plugins/app/auth.js';
import shedding from '../../plugins/external/under-pressure.js';
import type { ImageModel } from '../../serving/predictor.js';
import type { TabularModel } from '../../serving/tabular.js';
import { encodedBodyLimit, MODEL_TARGETS } from '../targets.js';
import { clientKey } from '../client-key.js';
import { readBatchImages, readSingleImage } from './inputs.js';
import { readTabularRow, readTabularRows } from './tabular-inputs.js';


function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

function isImage(model: ServedVersion): model is ImageModel {
  return model.metadata.kind === 'image-classifier';
}

/** Two image versions turn a file into the same model input. */
function sameContract(a: ImageModel, b: ImageModel): boolean {
  return JSON.stringify(a.metadata.preprocessing) === JSON.stringify(b.metadata.preprocessing);
}

/**
 * POST /predict and /predict/batch, for the default model, any model, and any version. The
 * route resolves and holds the version; the version's kind decides how the body is read and
 * what the answer holds.
 */
const predictRoutes: FastifyPluginAsyncZod<{ config: Config }> = async (app, { config }) => {
  await app.register(shedding, { config });
  const guarded = app.apiKeys.enabled;
  const auth = guarded ? { onRequest: app.authenticate } : {};
  const security = guarded ? { security: SECURITY } : {};
  const authErrors: number[] = guarded ? [401] : [];
  /**
   * Hold the version a request names for the whole request; a request naming none goes where
   * the model's traffic policy sends it (by weight, sticky per client), else to the default.
   */
  const hold = (request: FastifyRequest, reply: FastifyReply) => {
    const params = (request.params ?? {}) as { name?: string; version?: string };
    const held = app.models.traffic.acquire(params.name ?? app.models.defaultModel, params.version, clientKey(request, app.identifyKey(request)));
    reply.header('x-model-version', held.lease.version);
    return held;
  };

  const single = async (request: FastifyRequest, reply: FastifyReply, model: ServedVersion, topK: number) => {
    if (isImage(model)) {
      const input = await readSingleImage(request);
      const result = await app.predictor.predict(model, input, topK);
      if (app.predictor.cacheEnabled) reply.header('x-cache', result.cached ? 'HIT' : 'MISS');
      const { format, input: prepared, ...prediction } = result;
      // What a shadow version is run on, and the answer it is compared with: the decoded input
      // again when both versions prepare images alike (no second decoding), else the file.
      const mirror = {
        output: Float32Array.from(result.probabilities),
        run: async (shadow: ServedVersion): Promise<Float32Array> => {
          if (prepared && isImage(shadow) && sameContract(shadow, model)) return (await shadow.classify([prepared]))[0]!;
          const [o] = await app.predictor.infer(shadow as ImageModel, [input]);
          if (!o!.ok) throw o!.error;
          return o!.value.probabilities;
        },
      };
      return { log: { label: result.class_label, confidence: result.confidence, format, cached: result.cached }, body: prediction, mirror };
    }
    const row = readTabularRow(request, model);
    const result = await app.tabularPredictor.predict(model as TabularModel, row, topK);
    if (app.predictor.cacheEnabled) reply.header('x-cache', result.cached ? 'HIT' : 'MISS');
    const log = 'class_label' in result ? { label: result.class_label, confidence: result.confidence } : { value: result.prediction };
    const mirror = {
      output: Float32Array.from('class_label' in result ? result.probabilities : [result.prediction]),
      run: async (shadow: ServedVersion): Promise<Float32Array> => {
        const [o] = await app.tabularPredictor.infer(shadow as TabularModel, [row]);
        if (!o!.ok) throw o!.error;
        return o!.value.output;
      },
    };
    return { log: { ...log, cached: result.cached, warnings: result.warnings?.length ?? 0 }, body: result, mirror };
  };

  const batch = async (request: FastifyRequest, model: ServedVersion) => {
    const topK = (request.query as { top_k?: number }).top_k ?? config.DEFAULT_TOP_K;
    if (isImage(model)) {
      const inputs = await readBatchImages(request, config.MAX_BATCH_FILES, config.MAX_BATCH_UPLOAD_BYTES);
      const outcomes = await app.predictor.predictBatch(model, inputs, topK);
      return outcomes.map((outcome, index) => {
        const filename = inputs[index]!.filename;
        if (!outcome.ok) return { index, filename, error: { status: outcome.error.status, title: outcome.error.title, detail: outcome.error.message } };
        const { format: _format, input: _input, ...prediction } = outcome.value;
        return { index, filename, ...prediction };
      });
    }
    const rows = readTabularRows(request, model, config.MAX_BATCH_FILES);
    const outcomes = await app.tabularPredictor.predictBatch(model as TabularModel, rows, topK);
    return outcomes.map((outcome, index) => {
      if (outcome.ok) return { index, filename: null, ...outcome.value };
      const { status, title, message, extensions } = outcome.error;
      return { index, filename: null, error: { status, title, detail: message, ...extensions } };
    });
  };

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
            "Image models: the image as multipart field `file` (`curl -F file=@cat.jpg`), as JSON `{\"image\": \"<base64>\"}`, or as a raw `image/*` body; the real format is detected from the bytes. Tabular models: JSON `{\"features\": [5.1, 3.5, 1.4, 0.2]}` in declared order, or `{\"features\": {\"sepal_length\": 5.1, ...}}` by name (see GET /v1/models/{name} for the features). A classifier answers a class, a regressor `prediction`. The `X-Model-Version` header names the version that answered.",
          ...(target.params ? { params: target.params } : {}),
          consumes: ['multipart/form-data', 'application/json', 'image/*', 'application/octet-stream'],
          querystring: predictQuerySchema,
          response: { 200: predictResponseSchema, ...problemResponses(400, ...authErrors, 404, 413, 415, 422, 429, 500, 503) },
        },
      },
      async (request, reply) => {
        const started = performance.now();
        const { lease, role } = hold(request, reply);
        const model = lease.value;
        let answer: { label: string; confidence: number } | { value: number } | undefined;
        try {
          const { log, body, mirror } = await single(request, reply, model, request.query.top_k ?? config.DEFAULT_TOP_K);
          const latency = round(performance.now() - started);
          request.log.info({ prediction: { ...log, latency_ms: latency, model: model.name, version: model.version, ...(role && { role }) } }, 'prediction');
          answer = 'class_label' in body ? { label: body.class_label, confidence: body.confidence } : { value: body.prediction };
          // Shadow copies run once this answer has been sent, never before it.
          // (a turn later, once this request no longer counts as work in hand).
          if (role) reply.raw.once('finish', () => setImmediate(() => app.models.traffic.mirror(model.name, { version: model.version, output: mirror.output, labels: model.labels }, mirror.run)));
          return { ...body, model: { name: model.name, version: model.version }, latency_ms: latency };
        } finally {
          if (role) app.models.traffic.record(model.name, model.version, role, (performance.now() - started) / 1000, answer);
          lease.release();
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
            'Image models: repeated multipart fields `files`, or JSON `{"images": ["<base64>", ...]}`. Tabular models: JSON `{"instances": [<row>, ...]}`, each row an array or an object as for /predict. Results come back in request order; an input that cannot be used gets an `error` entry and does not fail the others. Valid inputs run through the model as one batch.',
          ...(target.params ? { params: target.params } : {}),
          consumes: ['multipart/form-data', 'application/json'],
          querystring: predictQuerySchema,
          response: { 200: batchResponseSchema, ...problemResponses(400, ...authErrors, 404, 413, 415, 429, 500, 503) },
        },
      },
      async (request, reply) => {
        const started = performance.now();
        const { lease } = hold(request, reply);
        const model = lease.value;
        try {
          const predictions = await batch(request, model);
          const latency = round(performance.now() - started);
          const ok = predictions.filter((p) => !('error' in p));
          if (app.predictor.cacheEnabled) reply.header('x-cache-hits', String(ok.filter((p) => 'cached' in p && p.cached).length));
          request.log.info({ batch: { inputs: predictions.length, ok: ok.length, latency_ms: latency, model: model.name, version: model.version } }, 'batch prediction');
          return { predictions, model: { name: model.name, version: model.version }, latency_ms: latency };
        } finally {
          lease.release();
        }
      },
    );
  }
};

export default predictRoutes;
