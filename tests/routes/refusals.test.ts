/** Answers that say what to do instead: an unknown query parameter names the ones a route takes; a known path under the wrong method is 405 with Allow. */
import type { FastifyInstance } from 'fastify';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../helpers/app.js';
import * as img from '../helpers/images.js';

describe('refusals that name the way forward', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await buildApp();
  });
  afterAll(() => app.close());

  it('refuses an unknown query parameter, naming the ones the route takes', async () => {
    const typo = await request(app.server).post('/predict?topk=5').attach('file', img.photo('cat'), 'cat.jpg');
    expect(typo.status).toBe(400);
    expect(typo.body).toMatchObject({ type: 'urn:ml-inference-api:problem:invalid-request', detail: "querystring: unknown query parameter 'topk'; this route takes top_k" });
    const batch = await request(app.server).post('/v1/models/iris/predict/batch?top=2&x=1').send({ instances: [[5.1, 3.5, 1.4, 0.2]] });
    expect(batch.body.detail).toBe("querystring: unknown query parameter 'top', 'x'; this route takes top_k");
    const explain = await request(app.server).post('/v1/models/iris/explain?methods=shapley').send({ features: [5.1, 3.5, 1.4, 0.2] });
    expect(explain.status).toBe(400);
    expect(explain.body.detail).toBe("querystring: unknown query parameter 'methods'; this route takes target, method, format, patch");
    // The parameters a route takes still work.
    expect((await request(app.server).post('/predict?top_k=5').attach('file', img.photo('cat'), 'cat.jpg')).body.top_k).toHaveLength(5);
  });

  it('answers 405 with Allow for a path served under other methods, in each protocol\'s error shape', async () => {
    const get = await request(app.server).get('/predict');
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
    expect(get.body).toMatchObject({ type: 'urn:ml-inference-api:problem:method-not-allowed', detail: 'GET is not served on /predict; use POST' });
    const model = await request(app.server).delete('/v1/models/iris');
    expect(model.status).toBe(405);
    expect(model.headers.allow).toBe('GET, HEAD');
    const v2 = await request(app.server).get('/v2/models/iris/infer');
    expect(v2.status).toBe(405);
    expect(v2.headers.allow).toBe('POST');
    expect(v2.body).toEqual({ error: 'GET is not served on /v2/models/iris/infer; use POST' });
    // A path nothing serves is still 404.
    expect((await request(app.server).get('/nowhere')).status).toBe(404);
    expect((await request(app.server).get('/v2/nowhere')).body).toEqual({ error: 'no route GET /v2/nowhere' });
  });
});
