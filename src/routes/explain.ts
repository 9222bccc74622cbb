/**
 * POST /explain, /v1/models/{name}/explain and /v1/models/{name}/versions/{v}/explain: the
 * same inputs, auth, limits and errors as predict; the version's kind decides the methods and
 * the answer (a JSON map, or a drawn PNG where the kind draws one). A thin adapter over the
 * dataplane, which holds the version and runs the explanation in a bounded slot.
 */
import { annotate } from '../http/request-log.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Config } from '../config.js';
import { SECURITY } from '../plugins/app/auth.js';
import shedding from '../plugins/external/under-pressure.js';
import { explainQuerySchema } from '../schemas/explain.js';
import { problemResponses } from '../schemas/problem.js';
import { acceptTextBodies, nativeBody } from './native-body.js';
import { encodedBodyLimit, MODEL_TARGETS } from './targets.js';

/** Width of a drawn explanation. */
const PNG_WIDTH = 256;

function acceptsPng(request: FastifyRequest): boolean {
  const accept = request.headers.accept ?? '';
  return /\bimage\/png\b/.test(accept) && !/\bapplication\/json\b/.test(accept);
}

const explainRoutes: FastifyPluginAsyncZod<{ config: Config }> = async (app, { config }) => {
  await app.register(shedding, { config });
  acceptTextBodies(app);
  const guarded = app.apiKeys.enabled;
  const auth = guarded ? { onRequest: app.authenticate } : {};
  const security = guarded ? { security: SECURITY } : {};
  const authErrors: number[] = guarded ? [401] : [];
  const schemas = app.kinds.explanationSchemas();
  const answer = (schemas.length === 1 ? schemas[0]! : z.union(schemas as [z.ZodType, z.ZodType])).describe('The explanation (or, for a PNG, the image)');

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
          consumes: ['multipart/form-data', 'application/json', 'image/*', 'application/octet-stream', 'text/plain', 'message/rfc822'],
          querystring: explainQuerySchema,
          response: { 200: answer, ...problemResponses(400, ...authErrors, 404, 413, 415, 422, 429, 500, 503) },
        },
      },
      async (request: FastifyRequest, reply: FastifyReply) => {
        const started = performance.now();
        const query = request.query as z.infer<typeof explainQuerySchema>;
        const params = (request.params ?? {}) as { name?: string; version?: string };
        // Explanations go to the version named, else the default version (never a canary).
        const exchange = app.dataplane.hold({ name: params.name ?? app.models.defaultModel, ...(params.version !== undefined && { version: params.version }), routed: false });
        reply.header('x-model-version', exchange.model.version);
        const model = exchange.model;
        try {
          const input = await model.kind.readSingle(nativeBody(request));
          const explanation = await exchange.explain(input, {
            ...(query.method !== undefined && { method: query.method }),
            ...(query.target !== undefined && { target: query.target }),
            ...(query.format !== undefined && { format: query.format }),
            acceptsPng: acceptsPng(request),
            patch: query.patch,
            pngWidth: PNG_WIDTH,
          });
          const latency = Math.round((performance.now() - started) * 100) / 100;
          annotate(request, () => ({ explanation: { model: model.name, version: model.version, ...explanation.log, latency_ms: latency } }));
          if (explanation.png) {
            return await reply
              .type('image/png')
              .headers({ ...explanation.png.headers, 'x-latency-ms': String(latency) })
              .send(explanation.png.bytes);
          }
          return { ...explanation.body, model: { name: model.name, version: model.version }, latency_ms: latency };
        } finally {
          exchange.release();
        }
      },
    );
  }
};

export default explainRoutes;
