/** Explanations over real HTTP on the real app with the shipped models: images (occlusion) and rows (Shapley). */
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, served } from '../helpers/app.js';
import * as img from '../helpers/images.js';

const VIRGINICA = [6.7, 3.0, 5.2, 2.3];
const WINE = [7.4, 0.7, 0, 1.9, 0.076, 11, 34, 0.9978, 3.51, 0.56, 9.4];
const PROBLEM = /^application\/problem\+json/;

function expectProblem(res: request.Response, status: number, slug: string, detail?: RegExp): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.headers['content-type']).toMatch(PROBLEM);
  expect(res.body.type).toBe(`urn:ml-inference-api:problem:${slug}`);
  if (detail) expect(res.body.detail).toMatch(detail);
}

describe('POST …/explain', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await buildApp();
  });
  afterAll(async () => {
    await app.close();
  });

  const explainImage = (path: string, photo: Buffer) => request(app.server).post(path).set('content-type', 'image/jpeg').send(photo);

  it('images: an occlusion map at the input resolution for the predicted class, through every route form', async () => {
    const photo = img.photo('truck');
    const native = await request(app.server).post('/predict').set('content-type', 'image/jpeg').send(photo);
    for (const path of ['/explain', '/v1/models/cifar10/explain', '/v1/models/cifar10/versions/1/explain']) {
      const res = await explainImage(path, photo);
      expect(res.status).toBe(200);
      expect(res.headers['x-model-version']).toBe('1');
      expect(res.body).toMatchObject({ class_label: native.body.class_label, method: 'occlusion', target: native.body.class_label, probability: native.body.confidence, patch: 4, stride: 2, evaluations: 226, model: { name: 'cifar10', version: '1' } });
      expect(res.body.attribution).toHaveLength(32);
      for (const row of res.body.attribution as number[][]) expect(row).toHaveLength(32);
      expect(res.body.latency_ms).toBeGreaterThan(0);
    }
    // Hiding the truck lowers its probability: the map holds clearly positive evidence somewhere.
    const res = await explainImage('/v1/models/cifar10/explain', photo);
    expect(Math.max(...(res.body.attribution as number[][]).flat())).toBeGreaterThan(0.05);
  });

  it('images: ?target explains another class; ?patch changes the cost; ?method=sampling maps pixel by pixel, the same every time', async () => {
    const photo = img.photo('cat');
    const native = await request(app.server).post('/predict?top_k=10').set('content-type', 'image/jpeg').send(photo);
    const dog = (native.body.top_k as { label: string; probability: number }[]).find((t) => t.label === 'dog')!;
    const res = await explainImage('/v1/models/cifar10/explain?target=dog&patch=8', photo);
    expect(res.body).toMatchObject({ target: 'dog', probability: dog.probability, patch: 8, stride: 4, evaluations: 7 * 7 + 1 });
    const sampled = await explainImage('/v1/models/cifar10/explain?method=sampling', photo);
    expect(sampled.body).toMatchObject({ method: 'sampling', masks: 512, evaluations: 513, target: native.body.class_label });
    expect(sampled.body.patch).toBeUndefined();
    expect(sampled.body.attribution).toHaveLength(32);
    expect((await explainImage('/v1/models/cifar10/explain?method=sampling', photo)).body.attribution).toEqual(sampled.body.attribution);
  });

  it('images: a PNG heat-map over the image with Accept: image/png or ?format=png', async () => {
    const photo = img.photo('horse');
    for (const req of [explainImage('/v1/models/cifar10/explain', photo).set('accept', 'image/png'), explainImage('/explain?format=png&target=horse', photo)]) {
      const res = await req.buffer(true).parse((r, done) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => done(null, Buffer.concat(chunks)));
      });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('image/png');
      expect(res.headers['x-class-label']).toEqual(expect.any(String));
      const meta = await sharp(res.body as Buffer).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', 256, 256]);
    }
  });

  it('rows: exact Shapley values that add up to value − baseline_value, against the training mean', async () => {
    const native = await request(app.server).post('/v1/models/iris/predict').send({ features: VIRGINICA });
    const res = await request(app.server).post('/v1/models/iris/explain').send({ features: VIRGINICA });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ method: 'shapley', class_label: 'virginica', output: 'probability of virginica', evaluations: 17 });
    expect(res.body.value).toBeCloseTo(native.body.confidence, 6);
    const described = served(app, 'iris').kind.describe() as { baseline: Record<string, number> };
    expect(res.body.baseline).toEqual(described.baseline);
    const sum = (o: Record<string, number>): number => Object.values(o).reduce((a, b) => a + b, 0);
    expect(Object.keys(res.body.attributions)).toEqual(['sepal_length', 'sepal_width', 'petal_length', 'petal_width']);
    expect(Math.abs(sum(res.body.attributions) - (res.body.value - res.body.baseline_value))).toBeLessThan(1e-9);
    // The petals carry the decision.
    expect(res.body.attributions.petal_width + res.body.attributions.petal_length).toBeGreaterThan(0.5);
    const setosa = await request(app.server).post('/v1/models/iris/explain?target=setosa').send({ features: Object.fromEntries(['sepal_length', 'sepal_width', 'petal_length', 'petal_width'].map((f, i) => [f, VIRGINICA[i]])) });
    expect(setosa.body.output).toBe('probability of setosa');
    expect(Math.abs(sum(setosa.body.attributions) - (setosa.body.value - setosa.body.baseline_value))).toBeLessThan(1e-9);
    const wine = await request(app.server).post('/v1/models/wine-quality/versions/1/explain').send({ features: WINE });
    expect(wine.body).toMatchObject({ method: 'shapley', output: 'prediction', evaluations: 2049 });
    expect(wine.body.prediction).toBeCloseTo(wine.body.value, 5);
    expect(Object.keys(wine.body.attributions)).toHaveLength(11);
    expect(Math.abs(sum(wine.body.attributions) - (wine.body.value - wine.body.baseline_value))).toBeLessThan(1e-9);
  });

  it('bad inputs get the documented problems', async () => {
    expectProblem(await request(app.server).post('/v1/models/cifar10/explain').set('content-type', 'image/png').send(Buffer.from('%PDF-1.4')), 400, 'not-an-image');
    expectProblem(await request(app.server).post('/v1/models/cifar10/explain').set('content-type', 'image/jpeg').send(img.photo('cat').subarray(0, 300)), 422, 'undecodable-image');
    expectProblem(await explainImage('/v1/models/cifar10/explain?target=unicorn', img.photo('cat')), 400, 'unknown-target', /one of airplane, automobile/);
    expectProblem(await explainImage('/v1/models/cifar10/explain?method=gradient', img.photo('cat')), 400, 'unknown-method', /use occlusion or sampling/);
    expectProblem(await explainImage('/v1/models/cifar10/explain?patch=1', img.photo('cat')), 400, 'invalid-request');
    expectProblem(await request(app.server).post('/v1/models/cifar10/explain'), 400, 'missing-file');
    expectProblem(await request(app.server).post('/v1/models/iris/explain').send({ features: [1, 2] }), 422, 'invalid-features', /expected 4 features/);
    expectProblem(await request(app.server).post('/v1/models/iris/explain?format=png').send({ features: VIRGINICA }), 400, 'invalid-request', /image models/);
    expectProblem(await request(app.server).post('/v1/models/iris/explain?method=occlusion').send({ features: VIRGINICA }), 400, 'unknown-method', /use shapley/);
    expectProblem(await request(app.server).post('/v1/models/wine-quality/explain?target=red').send({ features: WINE }), 400, 'unknown-target', /classifiers/);
    expectProblem(await request(app.server).post('/v1/models/resnet/explain').send({ features: VIRGINICA }), 404, 'unknown-model');
    expectProblem(await request(app.server).post('/v1/models/iris/versions/4/explain').send({ features: VIRGINICA }), 404, 'unknown-version');
  });

  it('counts explanations and their cost in the metrics', async () => {
    await request(app.server).post('/v1/models/iris/explain').send({ features: VIRGINICA });
    const metrics = await request(app.server).get('/metrics');
    expect(metrics.text).toMatch(/mlapi_explanations_total\{model="iris",version="1",method="shapley"\} [1-9]/);
    expect(metrics.text).toMatch(/mlapi_explanations_total\{model="cifar10",version="1",method="occlusion"\} [1-9]/);
    expect(metrics.text).toMatch(/mlapi_explanation_evaluations_bucket\{le="16",method="shapley"\} 0/);
    expect(metrics.text).toMatch(/mlapi_explanation_duration_seconds_count\{model="iris",version="1",method="shapley"\} [1-9]/);
    expect(metrics.text).toMatch(/mlapi_explanations_in_flight 0/);
  });
});

describe('explanations: API keys and the concurrency limit', () => {
  const KEY = 'explain-key-0123456789abcdef';
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await buildApp({ API_KEYS: KEY, EXPLAIN_CONCURRENCY: '1' });
  });
  afterAll(async () => {
    await app.close();
  });

  it('needs a key like predict', async () => {
    expectProblem(await request(app.server).post('/v1/models/iris/explain').send({ features: VIRGINICA }), 401, 'unauthorized');
    expect((await request(app.server).post('/v1/models/iris/explain').set('x-api-key', KEY).send({ features: VIRGINICA })).status).toBe(200);
  });

  it('answers 503 with Retry-After while EXPLAIN_CONCURRENCY explanations run, and predictions go on', async () => {
    // Hold the running explanation's model evaluations until the test lets them go.
    const model = served(app, 'iris');
    const run = model.run.bind(model);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let held!: () => void;
    const reached = new Promise<void>((resolve) => (held = resolve));
    model.run = async (inputs) => {
      held();
      await gate;
      return run(inputs);
    };
    try {
      const first = request(app.server).post('/v1/models/iris/explain').set('x-api-key', KEY).send({ features: VIRGINICA }).then((r) => r);
      await reached;
      const refused = await request(app.server).post('/v1/models/iris/explain').set('x-api-key', KEY).send({ features: VIRGINICA });
      expectProblem(refused, 503, 'explanations-busy', /EXPLAIN_CONCURRENCY/);
      expect(refused.headers['retry-after']).toBe('1');
      const image = await request(app.server).post('/v1/models/cifar10/explain').set('x-api-key', KEY).set('content-type', 'image/jpeg').send(img.photo('cat'));
      expectProblem(image, 503, 'explanations-busy');
      // Predictions are not held back by the explanation limit.
      expect((await request(app.server).post('/predict').set('x-api-key', KEY).set('content-type', 'image/jpeg').send(img.photo('cat'))).status).toBe(200);
      const metrics = await request(app.server).get('/metrics').set('x-api-key', KEY);
      expect(metrics.text).toMatch(/mlapi_explanations_in_flight 1/);
      expect(metrics.text).toMatch(/mlapi_explanations_refused_total 2/);
      release();
      expect((await first).status).toBe(200);
    } finally {
      release();
      model.run = run;
    }
    expect((await request(app.server).post('/v1/models/iris/explain').set('x-api-key', KEY).send({ features: VIRGINICA })).status).toBe(200);
  });
});
