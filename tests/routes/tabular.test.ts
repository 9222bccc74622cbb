/** Tabular models over real HTTP: the shipped iris classifier and wine-quality regressor. */
import SwaggerParser from '@apidevtools/swagger-parser';
import type { FastifyInstance } from 'fastify';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../helpers/app.js';
import * as img from '../helpers/images.js';

const SETOSA = [5.1, 3.5, 1.4, 0.2];
const VIRGINICA = { sepal_length: 6.7, sepal_width: 3.0, petal_length: 5.2, petal_width: 2.3 };
const WINE = [7.4, 0.7, 0, 1.9, 0.076, 11, 34, 0.9978, 3.51, 0.56, 9.4];
const PROBLEM = /^application\/problem\+json/;

describe('tabular models', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await buildApp({ MAX_BATCH_FILES: '8' });
  });
  afterAll(async () => {
    await app.close();
  });

  const iris = (body: unknown) => request(app.server).post('/v1/models/iris/predict').send(body as object);

  it('classifies a row given in declared order or by name, with the image classifier fields', async () => {
    const byOrder = await iris({ features: SETOSA });
    expect(byOrder.status).toBe(200);
    expect(byOrder.headers['x-model-version']).toBe('1');
    expect(byOrder.body).toMatchObject({ class_label: 'setosa', class_index: 0, cached: false, model: { name: 'iris', version: '1' } });
    expect(byOrder.body.probabilities).toHaveLength(3);
    expect(byOrder.body.top_k[0].label).toBe('setosa');
    expect(byOrder.body.warnings).toBeUndefined();
    const byName = await iris({ features: VIRGINICA });
    expect(byName.status).toBe(200);
    expect(byName.body.class_label).toBe('virginica');
    const versioned = await request(app.server).post('/v1/models/iris/versions/1/predict').send({ features: [5.9, 2.8, 4.3, 1.3] });
    expect(versioned.body.class_label).toBe('versicolor');
  });

  it('a regressor answers a number', async () => {
    const res = await request(app.server).post('/v1/models/wine-quality/predict').send({ features: WINE });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['cached', 'latency_ms', 'model', 'prediction']);
    expect(res.body.prediction).toBeGreaterThan(4.5);
    expect(res.body.prediction).toBeLessThan(5.5);
    const meta = await request(app.server).get('/v1/models/wine-quality');
    expect(meta.body.kind).toBe('tabular-regressor');
    expect(meta.body.metadata.features.map((f: { name: string }) => f.name)).toEqual([
      'fixed_acidity', 'volatile_acidity', 'citric_acid', 'residual_sugar', 'chlorides', 'free_sulfur_dioxide', 'total_sulfur_dioxide', 'density', 'ph', 'sulphates', 'alcohol',
    ]);
    expect(meta.body.metadata.accuracy).toBeGreaterThan(0.624);
  });

  it('answers a batch in order, a bad row in the middle failing alone', async () => {
    const res = await request(app.server)
      .post('/v1/models/iris/predict/batch')
      .send({ instances: [SETOSA, [1, 2], VIRGINICA] });
    expect(res.status).toBe(200);
    const [a, b, c] = res.body.predictions;
    expect(a).toMatchObject({ index: 0, class_label: 'setosa' });
    expect(b).toEqual({
      index: 1,
      filename: null,
      error: {
        status: 422,
        title: 'Unprocessable Entity',
        detail: 'expected 4 features (sepal_length, sepal_width, petal_length, petal_width), got 2',
        errors: [{ message: 'expected 4 features (sepal_length, sepal_width, petal_length, petal_width), got 2' }],
      },
    });
    expect(c).toMatchObject({ index: 2, class_label: 'virginica' });
    const tooMany = await request(app.server).post('/v1/models/iris/predict/batch').send({ instances: Array(9).fill(SETOSA) });
    expect(tooMany.status).toBe(413);
    expect(tooMany.body.detail).toBe('at most 8 rows per batch (MAX_BATCH_FILES); got 9');
  });

  it('refuses each bad input with 422, naming the offending feature', async () => {
    const cases: [unknown, string | undefined, RegExp][] = [
      [{ sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4 }, 'petal_width', /^missing feature petal_width$/],
      [{ ...VIRGINICA, colour: 3 }, 'colour', /^unknown feature "colour"$/],
      [[1, 2, 3], undefined, /^expected 4 features .*, got 3$/],
      [[5.1, 'wide', 1.4, 0.2], 'sepal_width', /^sepal_width must be a finite number, got the string "wide"$/],
      [[5.1, 3.5, 'NaN', 0.2], 'petal_length', /got the string "NaN"$/],
      [[5.1, 3.5, 1.4, '1e999'], 'petal_width', /got the string "1e999"$/],
      [[null, 3.5, 1.4, 0.2], 'sepal_length', /got null$/],
      [{ ...VIRGINICA, sepal_width: { value: 3 } }, 'sepal_width', /got an object$/],
      [[[5.1], 3.5, 1.4, 0.2], 'sepal_length', /got an array$/],
      ['5.1,3.5,1.4,0.2', undefined, /^features must be an array of 4 numbers or an object keyed by feature name/],
    ];
    for (const [features, feature, message] of cases) {
      const res = await iris({ features });
      expect(res.status, JSON.stringify(features)).toBe(422);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.body.type).toBe('urn:ml-inference-api:problem:invalid-features');
      const entry = res.body.errors.find((e: { feature?: string }) => e.feature === feature);
      expect(entry, JSON.stringify(res.body.errors)).toBeDefined();
      expect(entry.message).toMatch(message);
      expect(res.body.detail).toContain(entry.message);
    }
    // Unknown features are each named; the accepted names come once, however many are unknown.
    const unknown = await iris({ features: { ...VIRGINICA, colour: 3, smell: 1, taste: 2 } });
    expect(unknown.body.errors).toEqual([
      { feature: 'colour', message: 'unknown feature "colour"' },
      { feature: 'smell', message: 'unknown feature "smell"' },
      { feature: 'taste', message: 'unknown feature "taste"' },
      { message: 'the features are sepal_length, sepal_width, petal_length, petal_width' },
    ]);
    expect(unknown.body.detail.match(/sepal_length/g)).toHaveLength(1);
    // A number JSON cannot hold: 1e999 parses as Infinity.
    const infinite = await request(app.server).post('/v1/models/iris/predict').set('content-type', 'application/json').send('{"features": [5.1, 3.5, 1.4, 1e999]}');
    expect(infinite.status).toBe(422);
    expect(infinite.body.errors).toEqual([{ feature: 'petal_width', message: 'petal_width must be a finite number, got Infinity' }]);
    // A million numbers: refused on the count, before any work.
    const huge = await request(app.server).post('/v1/models/iris/predict').set('content-type', 'application/json').send(`{"features": [${Array(1_000_000).fill(1).join(',')}]}`);
    expect(huge.status).toBe(422);
    expect(huge.body.detail).toMatch(/got 1000000$/);
    const noFeatures = await iris({ image: 'abc' });
    expect(noFeatures.status).toBe(400);
    expect(noFeatures.body.detail).toMatch(/^the JSON body must be \{"features"/);
    const image = await request(app.server).post('/v1/models/iris/predict').attach('file', img.photo('cat'), 'cat.jpg');
    expect(image.status).toBe(415);
    expect(image.body.detail).toMatch(/^model 'iris' \(tabular-classifier\) takes application\/json/);
    const rowToImageModel = await request(app.server).post('/v1/models/cifar10/predict').send({ features: SETOSA });
    expect(rowToImageModel.status).toBe(400);
  });

  it('answers values outside the training range with a warning, and counts them', async () => {
    const res = await iris({ features: { ...VIRGINICA, petal_width: 9.1 } });
    expect(res.status).toBe(200);
    expect(res.body.warnings).toEqual(['petal_width 9.1 is above the training range 0.1-2.5']);
    const low = await iris({ features: [5.1, 3.5, 1.4, -1] });
    expect(low.body.warnings).toEqual(['petal_width -1 is below the training range 0.1-2.5']);
    const metrics = (await request(app.server).get('/metrics')).text;
    expect(metrics).toMatch(/^mlapi_feature_out_of_range_total\{model="iris",version="1",feature="petal_width"\} 2$/m);
  });

  it('answers the same row from the cache whatever the order of its keys', async () => {
    const row = { sepal_length: 6.1, sepal_width: 2.9, petal_length: 4.7, petal_width: 1.4 };
    const first = await iris({ features: row });
    expect(first.headers['x-cache']).toBe('MISS');
    const reordered = await iris({ features: { petal_width: 1.4, petal_length: 4.7, sepal_width: 2.9, sepal_length: 6.1 } });
    expect(reordered.headers['x-cache']).toBe('HIT');
    expect(reordered.body.cached).toBe(true);
    expect(reordered.body.probabilities).toEqual(first.body.probabilities);
    const asArray = await iris({ features: [6.1, 2.9, 4.7, 1.4] });
    expect(asArray.body.cached).toBe(true);
  });

  it('documents each model at /v1/models/{name}/openapi.json with its own request', async () => {
    const res = await request(app.server).get('/v1/models/iris/openapi.json');
    expect(res.status).toBe(200);
    const doc = res.body;
    await expect(SwaggerParser.validate(structuredClone(doc))).resolves.toBeTruthy();
    const body = doc.paths['/v1/models/iris/predict'].post.requestBody.content['application/json'];
    const byName = body.schema.properties.features.oneOf[0];
    expect(byName.required).toEqual(['sepal_length', 'sepal_width', 'petal_length', 'petal_width']);
    expect(byName.properties.petal_width.description).toBe('Petal width (cm); seen in training: 0.1 to 2.5 (values outside are answered with a warning)');
    // The example is a row the model answers.
    const answer = await iris(body.example);
    expect(answer.status).toBe(200);
    const wine = (await request(app.server).get('/v1/models/wine-quality/openapi.json')).body;
    await expect(SwaggerParser.validate(structuredClone(wine))).resolves.toBeTruthy();
    expect(wine.paths['/v1/models/wine-quality/predict'].post.responses['200'].content['application/json'].schema.required).toContain('prediction');
    const image = (await request(app.server).get('/v1/models/cifar10/openapi.json')).body;
    await expect(SwaggerParser.validate(structuredClone(image))).resolves.toBeTruthy();
    expect(Object.keys(image.paths['/v1/models/cifar10/predict'].post.requestBody.content)).toContain('multipart/form-data');
    expect((await request(app.server).get('/v1/models/nope/openapi.json')).status).toBe(404);
  });
});
