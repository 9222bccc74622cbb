import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { modelOpenApi } from '../http/model-openapi.js';
import type { ServedVersion } from '../inference/served-version.js';
import { SECURITY } from '../plugins/app/auth.js';
import type { ModelStatus } from '../repository/repository.js';
import { drawEvaluationFigure, evaluationFigures } from '../evaluation/figures.js';
import { evaluationHeadline } from '../evaluation/read.js';
import { EVALUATION_FILE, type Evaluation } from '../evaluation/summary.js';
import { figureParamsSchema, modelDetailSchema, modelEntrySchema, modelListSchema, modelParamsSchema, modelReadySchema, versionDetailSchema, versionParamsSchema } from '../schemas/models.js';
import { ServingError } from '../serving/errors.js';
import { problemResponses } from '../schemas/problem.js';
import { trafficSummarySchema } from '../schemas/traffic.js';
import type { TrafficSummary } from '../serving/traffic-router.js';

const describe = (served: ServedVersion | undefined): Record<string, unknown> | null =>
  served ? { ...served.kind.describe(), runtime: served.runtime, backend: served.backend } : null;

const evaluationLink = (served: ServedVersion | undefined): { href: string; card: string | null; figures: Record<string, string>; summary: Record<string, unknown> } | null => {
  const evaluation = served?.evaluation;
  if (!served || !evaluation) return null;
  const href = `/v1/models/${encodeURIComponent(served.name)}/versions/${encodeURIComponent(served.version)}/evaluation`;
  return {
    href,
    card: evaluation.card ?? null,
    figures: Object.fromEntries(evaluationFigures(evaluation).map((f) => [f.replace(/\.png$/, ''), `${href}/${f}`])),
    summary: evaluationHeadline(evaluation),
  };
};

/** The repository: GET /v1/models…, per-model readiness, and the admin load / unload / reload. */
const modelRoutes: FastifyPluginAsyncZod<{ version: string }> = async (app, opts) => {
  const repo = app.models.repository;
  // Each loaded version says which runtime serves it.
  const entry = (status: ModelStatus) => {
    const loaded = new Map(repo.available().flatMap((a) => (a.name === status.name ? [[a.version, a.value] as const] : [])));
    const served = repo.peek(status.name) ?? loaded.values().next().value;
    const versions = status.versions.map((v) => {
      const s = loaded.get(v.version);
      return s ? { ...v, runtime: s.runtime, backend: s.backend } : v;
    });
    return { ...status, versions, kind: served?.kind.kind ?? null };
  };

  app.get(
    '/v1/models',
    { schema: { tags: ['models'], summary: 'Every model in the repository, with its versions and their states', response: { 200: modelListSchema } } },
    async () => ({ models: repo.list().map(entry) }),
  );

  app.get(
    '/v1/models/:name',
    {
      schema: {
        tags: ['models'],
        summary: "A model's versions and states, and its default version's metadata",
        params: modelParamsSchema,
        response: { 200: modelDetailSchema, ...problemResponses(400, 404) },
      },
    },
    async (request) => {
      const status = repo.status(request.params.name);
      return { ...entry(status), metadata: describe(repo.peek(status.name)) };
    },
  );

  app.get(
    '/v1/models/:name/versions/:version',
    {
      schema: {
        tags: ['models'],
        summary: "One version's state and metadata",
        params: versionParamsSchema,
        response: { 200: versionDetailSchema, ...problemResponses(400, 404) },
      },
    },
    async (request) => {
      const { served, ...status } = repo.versionStatus(request.params.name, request.params.version);
      return { name: request.params.name, ...status, ...(served && { runtime: served.runtime, backend: served.backend }), metadata: describe(served), evaluation: evaluationLink(served) };
    },
  );

  /** The loaded version's evaluation, or a 404 saying there is none. */
  const evaluationOf = (name: string, version: string): Evaluation => {
    const { served } = repo.versionStatus(name, version);
    if (!served) throw new ServingError('unavailable', 'not-ready', `version ${version} of '${name}' is not loaded`, { retryAfterS: 1 });
    if (!served.evaluation) throw new ServingError('not-found', 'no-evaluation', `version ${version} of '${name}' has no ${EVALUATION_FILE}: run npm run evaluate -- ${name} --version ${version}`);
    return served.evaluation;
  };
  app.get(
    '/v1/models/:name/versions/:version/evaluation',
    {
      schema: {
        tags: ['models'],
        summary: "A version's evaluation on held-out data: accuracy with its interval, per-class precision and recall, confusion matrix, calibration (classifiers) or error distribution (regressors)",
        params: versionParamsSchema,
        response: { 200: z.record(z.string(), z.unknown()).describe('evaluation.json, as `npm run evaluate` wrote it'), ...problemResponses(400, 404, 503) },
      },
    },
    async (request) => evaluationOf(request.params.name, request.params.version) as unknown as Record<string, unknown>,
  );
  // Drawn once per evaluation (the same SVG as the model card's pictures), then kept with it.
  const drawn = new WeakMap<Evaluation, Map<string, Buffer>>();
  app.get(
    '/v1/models/:name/versions/:version/evaluation/:figure',
    {
      schema: {
        tags: ['models'],
        summary: "A picture of a version's evaluation (PNG): the confusion matrix, the reliability diagram, or the error histogram",
        params: figureParamsSchema,
        response: { 200: z.any().describe('image/png'), ...problemResponses(400, 404, 503) },
      },
    },
    async (request, reply) => {
      const { name, version, figure } = request.params;
      const evaluation = evaluationOf(name, version);
      const figures = evaluationFigures(evaluation);
      if (!figures.includes(figure)) throw new ServingError('not-found', 'no-evaluation', `the evaluation of version ${version} of '${name}' draws ${figures.join(', ')}; not ${JSON.stringify(figure)}`);
      const cache = drawn.get(evaluation) ?? new Map<string, Buffer>();
      drawn.set(evaluation, cache);
      let png = cache.get(figure);
      if (!png) {
        png = await drawEvaluationFigure(evaluation, figure);
        cache.set(figure, png);
      }
      return reply.type('image/png').header('cache-control', 'no-cache').send(png);
    },
  );

  app.get(
    '/v1/models/:name/ready',
    {
      schema: {
        tags: ['models'],
        summary: 'Readiness of one model: 200 while a version serves its unversioned requests',
        params: modelParamsSchema,
        response: { 200: modelReadySchema, ...problemResponses(400, 404, 503) },
      },
    },
    async (request) => {
      const lease = repo.acquire(request.params.name);
      lease.release();
      return { name: lease.name, ready: true as const, version: lease.version };
    },
  );

  app.get(
    '/v1/models/:name/openapi.json',
    {
      schema: {
        tags: ['models'],
        summary: "An OpenAPI document for this model's prediction routes, with its own request (features, ranges) and answer",
        description: 'Generated from the version serving unversioned requests, so it follows hot reload. Open it in Swagger UI: /docs/?url=/v1/models/{name}/openapi.json',
        params: modelParamsSchema,
        response: { 200: z.record(z.string(), z.unknown()).describe('An OpenAPI 3.0 document'), ...problemResponses(400, 404, 503) },
      },
    },
    async (request) => {
      const lease = repo.acquire(request.params.name);
      try {
        return modelOpenApi(lease.value, opts.version, app.kinds.answerSchemas()) as unknown as Record<string, unknown>;
      } finally {
        lease.release();
      }
    },
  );

  const admin = { onRequest: app.authenticateAdmin };
  const adminSchema = (summary: string) => ({
    tags: ['admin'],
    summary,
    description: 'Needs a key from ADMIN_API_KEYS (Authorization: Bearer <key> or X-API-Key); with none configured it answers 403.',
    security: SECURITY,
    response: { 200: modelEntrySchema, ...problemResponses(400, 401, 403, 404, 409) },
  });

  const trafficDescription =
    'The policy in force for requests that name no version: {"split": {"<version>": <weight>, ...}, "sticky": <bool>, "shadow": {"version": "<v>", "fraction": <0..1>}}, where it came from (config.json or this API), why an offered one was refused, and the comparison of versions (requests, errors, latency, classes, confidence; shadow agreement and mean absolute probability difference). A PUT is recorded in the model\'s config.json, which every replica reads; the ETag is its revision, and a PUT with If-Match: "<revision>" is refused with 409 when the file has changed since. With REDIS_URL, `replicas` lists the revision each replica serves and the counts are the whole fleet\'s (`statistics`). Needs a key from ADMIN_API_KEYS.';
  const ifMatchSchema = z.object({ 'if-match': z.string().regex(/^(\*|(W\/)?"?\d{1,15}"?)$/, { message: 'If-Match must be a revision, as the ETag gives it ("3"), or *' }).optional() });
  const expectedRevision = (ifMatch: string | undefined): number | undefined => (ifMatch === undefined || ifMatch === '*' ? undefined : Number(/\d+/.exec(ifMatch)![0]));
  // A PUT's answer and ETag carry the revision that write produced, not whatever a concurrent
  // writer has made of the file since: an If-Match built from it names this write alone.
  const summary = async (name: string, reply: FastifyReply, written?: number): Promise<TrafficSummary> => {
    const s = app.models.traffic.summary(name, await app.models.fleet?.reports(name));
    const answer = written === undefined ? s : { ...s, revision: written };
    void reply.header('etag', `"${answer.revision}"`);
    return answer;
  };
  app.get(
    '/v1/models/:name/traffic',
    { ...admin, schema: { tags: ['admin'], summary: "A model's traffic policy and the comparison of its versions", description: trafficDescription, security: SECURITY, params: modelParamsSchema, response: { 200: trafficSummarySchema, ...problemResponses(400, 401, 403, 404) } } },
    async (request, reply) => {
      repo.status(request.params.name);
      return summary(request.params.name, reply);
    },
  );
  app.put(
    '/v1/models/:name/traffic',
    {
      ...admin,
      schema: {
        tags: ['admin'],
        summary: 'Set the traffic policy (400, the previous one staying, unless it is valid and its versions are AVAILABLE)',
        description: trafficDescription,
        security: SECURITY,
        params: modelParamsSchema,
        headers: ifMatchSchema,
        body: z.record(z.string(), z.unknown()).describe('The policy'),
        response: { 200: trafficSummarySchema, ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      repo.status(request.params.name);
      const written = await app.models.traffic.put(request.params.name, request.body, expectedRevision(request.headers['if-match']));
      return summary(request.params.name, reply, written);
    },
  );

  app.post(
    '/v1/models/:name/reload',
    { ...admin, schema: { ...adminSchema("Re-read the model's folder now: load new or changed versions, retry failed ones"), params: modelParamsSchema } },
    async (request) => entry(await repo.reload(request.params.name)),
  );
  app.post('/model/reload', { ...admin, schema: adminSchema('Reload the default model (DEFAULT_MODEL)') }, async () => entry(await repo.reload(app.models.defaultModel)));
  app.post(
    '/v1/models/:name/load',
    { ...admin, schema: { ...adminSchema('Load a model (again after an unload, or one added since the last scan)'), params: modelParamsSchema } },
    async (request) => entry(await repo.load(request.params.name)),
  );
  app.post(
    '/v1/models/:name/unload',
    { ...admin, schema: { ...adminSchema('Unload every version of a model (after in-flight requests finish) until the next load'), params: modelParamsSchema } },
    async (request) => entry(await repo.unload(request.params.name)),
  );
};

export default modelRoutes;
