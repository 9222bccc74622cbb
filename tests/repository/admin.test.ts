/** Admin routes: a separate key set; reload, unload and load a model through HTTP. */
import type { FastifyInstance } from 'fastify';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../helpers/app.js';
import * as img from '../helpers/images.js';
import { TempRepository, versionStates } from '../helpers/repository.js';

const ADMIN_KEY = 'admin-key-0123456789abcdef';
const API_KEY = 'api-key-0123456789abcdefgh';

describe('admin routes', () => {
  it('answer 403 admin-disabled when no ADMIN_API_KEYS are configured', async () => {
    const app = await buildApp({}, false);
    try {
      for (const url of ['/v1/models/cifar10/reload', '/v1/models/cifar10/load', '/v1/models/cifar10/unload', '/model/reload']) {
        const res = await request(app.server).post(url).set('x-api-key', ADMIN_KEY);
        expect(res.status, url).toBe(403);
        expect(res.body.type).toBe('urn:ml-inference-api:problem:admin-disabled');
        expect(res.body.detail).toMatch(/ADMIN_API_KEYS/);
      }
    } finally {
      await app.close();
    }
  });

  describe('with admin keys', () => {
    const repo = new TempRepository();
    let app: FastifyInstance;
    beforeAll(async () => {
      repo.publish('cifar10', '1');
      app = await buildApp({ MODEL_REPOSITORY: repo.root, ADMIN_API_KEYS: ADMIN_KEY, API_KEYS: API_KEY, CACHE_MAX_ENTRIES: '0' });
    });
    afterAll(async () => {
      await app.close();
      repo.dispose();
    });
    afterEach(async () => {
      await request(app.server).post('/v1/models/cifar10/load').set('authorization', `Bearer ${ADMIN_KEY}`);
    });

    const predict = () => request(app.server).post('/predict').set('x-api-key', API_KEY).attach('file', img.photo('airplane'), 'a.jpg');

    it('need an admin key: no key or an API key gets 401', async () => {
      expect((await request(app.server).post('/v1/models/cifar10/reload')).status).toBe(401);
      const wrong = await request(app.server).post('/v1/models/cifar10/reload').set('x-api-key', API_KEY);
      expect(wrong.status).toBe(401);
      expect(wrong.body.detail).toBe('the admin API key is not valid');
      // And an admin key is not an API key.
      const predictWithAdmin = await request(app.server).post('/predict').set('x-api-key', ADMIN_KEY).attach('file', img.photo('cat'), 'c.jpg');
      expect(predictWithAdmin.status).toBe(401);
    });

    it('reload picks up a new version at once, with polling off', async () => {
      repo.publish('cifar10', '2');
      expect((await predict()).headers['x-model-version']).toBe('1');
      const res = await request(app.server).post('/v1/models/cifar10/reload').set('x-api-key', ADMIN_KEY);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ name: 'cifar10', kind: 'image-classifier', default_version: '2', versions: [{ version: '2', state: 'AVAILABLE', runtime: 'onnx', backend: 'cpu' }] });
      expect((await predict()).headers['x-model-version']).toBe('2');
      repo.remove('cifar10', '2');
      const alias = await request(app.server).post('/model/reload').set('x-api-key', ADMIN_KEY);
      expect(alias.status).toBe(200);
      expect(alias.body.default_version).toBe('1');
    });

    it('unload takes a model out of service until load, and readiness follows', async () => {
      const unloaded = await request(app.server).post('/v1/models/cifar10/unload').set('x-api-key', ADMIN_KEY);
      expect(unloaded.status).toBe(200);
      expect(unloaded.body).toEqual({ name: 'cifar10', kind: null, default_version: null, versions: [] });
      const refused = await predict();
      expect(refused.status).toBe(503);
      expect(refused.body.detail).toBe("model 'cifar10' is unloaded");
      expect((await request(app.server).get('/ready')).status).toBe(503);
      expect((await request(app.server).get('/v1/models/cifar10/ready')).status).toBe(503);
      // A rescan does not bring it back.
      await request(app.server).post('/v1/models/cifar10/reload').set('x-api-key', ADMIN_KEY);
      expect(await versionStates(app, 'cifar10')).toEqual([]);
      const loaded = await request(app.server).post('/v1/models/cifar10/load').set('x-api-key', ADMIN_KEY);
      expect(loaded.status).toBe(200);
      expect(loaded.body.versions).toEqual([{ version: '1', state: 'AVAILABLE', runtime: 'onnx', backend: 'cpu' }]);
      expect((await predict()).status).toBe(200);
      expect((await request(app.server).get('/ready')).status).toBe(200);
    });

    it('answers 404 for a model that is not in the repository and 400 for an invalid name', async () => {
      expect((await request(app.server).post('/v1/models/absent/load').set('x-api-key', ADMIN_KEY)).status).toBe(404);
      expect((await request(app.server).post('/v1/models/..%2Fetc/load').set('x-api-key', ADMIN_KEY)).status).toBe(400);
    });
  });
});
