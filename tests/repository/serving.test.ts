/** Several models and versions served side by side, listed, and routed by name and version. */
import type { FastifyInstance } from 'fastify';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../helpers/app.js';
import * as img from '../helpers/images.js';
import { TempRepository } from '../helpers/repository.js';

describe('a repository of two models, one with two versions', () => {
  const repo = new TempRepository();
  let app: FastifyInstance;

  beforeAll(async () => {
    repo.publish('cifar10', '1');
    repo.publish('cifar10', '2', (f) => f.metadata((m) => (m.description = 'the second version')));
    repo.config('cifar10', { version_policy: { all: {} }, default_version: '1' });
    repo.publish('pets', '7');
    app = await buildApp({ MODEL_REPOSITORY: repo.root, INFERENCE_WORKERS: '2', CACHE_MAX_ENTRIES: '0' });
  });
  afterAll(async () => {
    await app.close();
    repo.dispose();
  });

  it('lists every model with its versions and states', async () => {
    const res = await request(app.server).get('/v1/models');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      models: [
        {
          name: 'cifar10',
          kind: 'image-classifier',
          default_version: '1',
          versions: [
            { version: '2', state: 'AVAILABLE', runtime: 'onnx', backend: 'cpu' },
            { version: '1', state: 'AVAILABLE', runtime: 'onnx', backend: 'cpu' },
          ],
        },
        { name: 'pets', kind: 'image-classifier', default_version: '7', versions: [{ version: '7', state: 'AVAILABLE', runtime: 'onnx', backend: 'cpu' }] },
      ],
    });
  });

  it("describes a model with its default version's metadata, and each version", async () => {
    const model = await request(app.server).get('/v1/models/cifar10');
    expect(model.status).toBe(200);
    expect(model.body.default_version).toBe('1');
    expect(model.body.metadata.labels).toEqual([...img.LABELS]);
    expect(model.body.metadata.input_shape).toEqual([32, 32, 3]);
    expect(model.body.metadata.accuracy).toBeGreaterThan(0.8);
    const v2 = await request(app.server).get('/v1/models/cifar10/versions/2');
    expect(v2.status).toBe(200);
    expect(v2.body).toMatchObject({ name: 'cifar10', version: '2', state: 'AVAILABLE', metadata: { description: 'the second version' } });
    for (const [url, type] of [
      ['/v1/models/nope', 'unknown-model'],
      ['/v1/models/cifar10/versions/3', 'unknown-version'],
    ] as const) {
      const res = await request(app.server).get(url);
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.body.type).toBe(`urn:ml-inference-api:problem:${type}`);
    }
  });

  it('routes predictions by model and version, and says which version answered', async () => {
    const cases = [
      ['/predict', 'cifar10', '1'],
      ['/v1/models/cifar10/predict', 'cifar10', '1'],
      ['/v1/models/cifar10/versions/2/predict', 'cifar10', '2'],
      ['/v1/models/cifar10/versions/1/predict', 'cifar10', '1'],
      ['/v1/models/pets/predict', 'pets', '7'],
      ['/v1/models/pets/versions/7/predict', 'pets', '7'],
    ] as const;
    for (const [url, name, version] of cases) {
      const res = await request(app.server).post(url).attach('file', img.photo('horse'), 'horse.jpg');
      expect(res.status, url).toBe(200);
      expect(res.body.class_label).toBe('horse');
      expect(res.body.model).toEqual({ name, version });
      expect(res.headers['x-model-version']).toBe(version);
    }
    const batch = await request(app.server).post('/v1/models/cifar10/versions/2/predict/batch').attach('files', img.photo('truck'), 'a.jpg').attach('files', img.photo('dog'), 'b.jpg');
    expect(batch.status).toBe(200);
    expect(batch.body.model).toEqual({ name: 'cifar10', version: '2' });
    expect(batch.headers['x-model-version']).toBe('2');
    expect(batch.body.predictions.map((p: { class_label: string }) => p.class_label)).toEqual(['truck', 'dog']);
    const unknown = await request(app.server).post('/v1/models/cifar10/versions/9/predict').attach('file', img.photo('ship'), 'a.jpg');
    expect(unknown.status).toBe(404);
  });

  it('shares one thread budget: three versions run on INFERENCE_WORKERS threads', async () => {
    expect(app.models.pool?.size).toBe(2);
    const metrics = await request(app.server).get('/metrics');
    const info = metrics.text.split('\n').filter((l) => l.startsWith('mlapi_model_info{'));
    expect(info.sort()).toEqual([
      'mlapi_model_info{model="cifar10",version="1",runtime="onnx",backend="cpu"} 1',
      'mlapi_model_info{model="cifar10",version="2",runtime="onnx",backend="cpu"} 1',
      'mlapi_model_info{model="pets",version="7",runtime="onnx",backend="cpu"} 1',
    ]);
    expect(metrics.text).toMatch(/mlapi_inference_batch_size_count\{model="pets",version="7"\} [1-9]/);
    expect(metrics.text).toMatch(/mlapi_predictions_total\{model="cifar10",version="2",class="truck"\} 1/);
  });

  it('answers readiness per model', async () => {
    expect((await request(app.server).get('/ready')).status).toBe(200);
    const pets = await request(app.server).get('/v1/models/pets/ready');
    expect(pets.status).toBe(200);
    expect(pets.body).toEqual({ name: 'pets', ready: true, version: '7' });
    expect((await request(app.server).get('/v1/models/nope/ready')).status).toBe(404);
  });
});
