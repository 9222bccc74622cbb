/**
 * POST /explain, /v1/models/{name}/explain and /v1/models/{name}/versions/{v}/explain: the
 * same inputs, auth, limits and errors as predict; the version's kind decides the method
 * (images: occlusion, as JSON or a PNG heat-map; rows: exact Shapley values).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Config } from '../config.js';
import { badRequest } from '../http/problems.js';
import type { ServedVersion } from '../inference/served-version.js';
import { SECURITY } from '../plugins/app/auth.js';
import shedding from '../plugins/external/under-pressure.js';
import { explainQuerySchema, imageExplanationSchema, rowExplanationSchema } from '../schemas/explain.js';
import { problemResponses } from '../schemas/problem.js';
import type { ImageModel } from '../serving/predictor.js';
import type { TabularModel } from '../serving/tabular.js';
import { readSingleImage } from './predict/inputs.js';
import { encodedBodyLimit, MODEL_TARGETS } from './targets.js';
import { readTabularRow } from './predict/tabular-inputs.js';

/** Width of the PNG heat-map. */
const PNG_WIDTH = 256;


function wantsPng(request: FastifyRequest, format: string | undefined): boolean {
  if (format !== undefined) return format === 'png';
  const accept = request.headers.accept ?? '';
  return /\bimage\/png\b/.test(accept) && !/\bapplication\/json\b/.test(accept);
}

const explainRoutes: FastifyPluginAsyncZod<{ config: Config }> = async (app, { config }) => {
  await app.register(shedding, { config });
  const guarded = app.apiKeys.enabled;
  const auth = guarded ? { onRequest: app.authenticate } : {};
  const security = guarded ? { security: SECURITY } : {};
  const authErrors: number[] = guarded ? [401] : [];

  for (const target of MODEL_TARGETS) {
    app.post(
      `${target.prefix}/explain`,
      {
        bodyLimit: encodedBodyLimit(config.MAX_UPLOAD_BYTES),
        ...auth,
        schema: {
          ...security,
          tags: ['inference'],
          summary: `Explain the answer of ${target.what} for one input`,
          description:
            'Same bodies as /predict. Image models: an attribution map (occlusion, or ?method=sampling) for the predicted class (or ?target=<label>) at the model\'s input resolution, as JSON, or with Accept: image/png (or ?format=png) drawn over the image as a 256-px PNG (red: evidence for the target). Tabular models: exact Shapley values of each feature against the training mean; they add up to value − baseline_value. Cost: occlusion (positions per side)² + 1 model evaluations (226 with the default 4-px patch on 32×32), ?method=sampling 513 (512 random pixel masks); Shapley 2^features + 1 (iris 17, wine 2,049). At most EXPLAIN_CONCURRENCY explanations run at once; more are answered 503 with Retry-After.',
          ...(target.params ? { params: target.params } : {}),
          consumes: ['multipart/form-data', 'application/json', 'image/*', 'application/octet-stream'],
          querystring: explainQuerySchema,
          response: {
            200: z.union([imageExplanationSchema, rowExplanationSchema]).describe('The explanation (or, for a PNG, the image)'),
            ...problemResponses(400, ...authErrors, 404, 413, 415, 422, 429, 500, 503),
          },
        },
      },
      async (request: FastifyRequest, reply: FastifyReply) => {
        const started = performance.now();
        const query = request.query as z.infer<typeof explainQuerySchema>;
        const params = (request.params ?? {}) as { name?: string; version?: string };
        const lease = app.models.repository.acquire(params.name ?? app.models.defaultModel, params.version);
        reply.header('x-model-version', lease.version);
        const model: ServedVersion = lease.value;
        try {
          const ref = { name: model.name, version: model.version };
          if (model.metadata.kind === 'image-classifier') {
            const png = wantsPng(request, query.format);
            const input = await readSingleImage(request);
            const { png: image, ...explanation } = await app.explainer.explainImage(model as ImageModel, input, {
              target: query.target,
              method: query.method,
              patch: query.patch,
              ...(png && { pngWidth: PNG_WIDTH }),
            });
            const latency = Math.round((performance.now() - started) * 100) / 100;
            request.log.info({ explanation: { model: model.name, version: model.version, method: explanation.method, target: explanation.target, evaluations: explanation.evaluations, latency_ms: latency } }, 'explanation');
            if (image) {
              return await reply
                .type('image/png')
                .headers({ 'x-class-label': explanation.class_label, 'x-explained-target': explanation.target, 'x-latency-ms': String(latency) })
                .send(image);
            }
            return { ...explanation, model: ref, latency_ms: latency };
          }
          if (query.format === 'png') throw badRequest('invalid-request', `a PNG heat-map is drawn for image models; '${model.name}' is ${model.kind}`);
          const explanation = await app.explainer.explainRow(model as TabularModel, readTabularRow(request, model), { target: query.target, method: query.method });
          const latency = Math.round((performance.now() - started) * 100) / 100;
          request.log.info({ explanation: { model: model.name, version: model.version, method: explanation.method, evaluations: explanation.evaluations, latency_ms: latency } }, 'explanation');
          return { ...explanation, model: ref, latency_ms: latency };
        } finally {
          lease.release();
        }
      },
    );
  }
};

export default explainRoutes;
