import type { FastifyInstance } from 'fastify';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../helpers/app.js';

describe('service routes', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await buildApp();
  });
  afterAll(async () => {
    await app.close();
  });

  it('GET /health answers ok', async () => {
    const res = await request(app.server).get('/health');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('GET /ready is 200 with the backend and model once loaded', async () => {
    const res = await request(app.server).get('/ready');
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('ready');
    // The bundled models are all ONNX: no host has loaded TF.js.
    expect(res.body.backend).toBe('none');
    // Every shipped version holds model.onnx: ONNX Runtime serves it (INFERENCE_RUNTIME=auto).
    expect(res.body.models).toEqual([
      { name: 'cifar10', version: '1', runtime: 'onnx', backend: 'cpu' },
      { name: 'iris', version: '1', runtime: 'onnx', backend: 'cpu' },
      { name: 'spam', version: '1', runtime: 'onnx', backend: 'cpu' },
      { name: 'wine-quality', version: '1', runtime: 'onnx', backend: 'cpu' },
    ]);
  });

  it('GET / describes the service, model, backend and links', async () => {
    const res = await request(app.server).get('/');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      name: 'ml-inference-api',
      status: 'ready',
      backend: null,
      model: { name: 'cifar10', input_shape: [32, 32, 3] },
      links: { predict: '/predict', docs: '/docs', openapi: '/docs/json', open_inference_protocol: '/v2' },
    });
    expect(res.body.model.labels).toHaveLength(10);
  });

  it('echoes X-Request-Id, or generates one', async () => {
    const given = await request(app.server).get('/health').set('X-Request-Id', 'abc-123');
    expect(given.headers['x-request-id']).toBe('abc-123');
    const generated = await request(app.server).get('/health');
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const hostile = await request(app.server).get('/health').set('X-Request-Id', 'a b<script>');
    expect(hostile.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('unknown routes are 404 problem details', async () => {
    const res = await request(app.server).get('/nope').set('X-Request-Id', 'r-404');
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toEqual({
      type: 'urn:ml-inference-api:problem:not-found',
      title: 'Not Found',
      status: 404,
      detail: 'no route GET /nope',
      instance: '/nope',
      request_id: 'r-404',
    });
  });

  it('serves Swagger UI at /docs and the OpenAPI document at /docs/json', async () => {
    const ui = await request(app.server).get('/docs/').redirects(1);
    expect(ui.status).toBe(200);
    expect(ui.text).toContain('swagger-ui');
    const doc = await request(app.server).get('/docs/json');
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe('3.0.3');
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/', '/health', '/ready', '/predict', '/predict/batch']));
  });
});

describe('readiness while the model loads or fails', () => {
  it('is 503 "loading" before the model is warm, while /health is 200', async () => {
    const app = await buildApp({ WARMUP_RUNS: '100' }, false);
    try {
      const ready = await request(app.server).get('/ready');
      expect(ready.status).toBe(503);
      expect(ready.headers['retry-after']).toBeDefined();
      expect(ready.body.detail).toMatch(/loading/);
      const predict = await request(app.server).post('/predict').attach('file', Buffer.from('x'), 'x.jpg');
      expect(predict.status).toBe(503);
      expect((await request(app.server).get('/health')).status).toBe(200);
      await app.models.settled();
      expect((await request(app.server).get('/ready')).status).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('is 503 with the reason when the default model is not in the repository', async () => {
    const app = await buildApp({ DEFAULT_MODEL: 'absent' });
    try {
      const ready = await request(app.server).get('/ready');
      expect(ready.status).toBe(503);
      expect(ready.body.detail).toMatch(/'absent' is not in the repository/);
      expect((await request(app.server).get('/health')).status).toBe(200);
      expect((await request(app.server).get('/')).body.status).toBe('failed');
    } finally {
      await app.close();
    }
  });
});
