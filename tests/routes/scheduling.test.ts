/** Dynamic batching, bounded queue and instance replacement, seen through HTTP. */
import type { FastifyInstance } from 'fastify';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp, served } from '../helpers/app.js';
import * as img from '../helpers/images.js';

describe('scheduling', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('concurrent single-image requests share batches across two worker instances', async () => {
    app = await buildApp({ INFERENCE_WORKERS: '2', MAX_BATCH_SIZE: '8', MAX_BATCH_DELAY_MS: '5', CACHE_MAX_ENTRIES: '0' });
    const model = served(app);
    expect(app.models.pool?.size).toBe(2);
    const before = model.stats();
    const statuses = await Promise.all(
      Array.from({ length: 24 }, (_, i) => request(app!.server).post('/predict').attach('file', img.photo(img.LABELS[i % 10]!), 'x.jpg').then((r) => r.status)),
    );
    expect(statuses).toEqual(Array(24).fill(200));
    const after = model.stats();
    expect(after.inputs - before.inputs).toBe(24);
    expect(after.batches - before.batches).toBeLessThan(24);
  });

  it('a batch larger than MAX_BATCH_SIZE is split and answered in order', async () => {
    app = await buildApp({ INFERENCE_WORKERS: '1', MAX_BATCH_SIZE: '3', MAX_BATCH_FILES: '10' });
    let req = request(app.server).post('/predict/batch');
    for (let i = 0; i < 10; i++) req = req.attach('files', img.photo(img.LABELS[i]!), `${img.LABELS[i]}.jpg`);
    const res = await req;
    expect(res.status).toBe(200);
    expect(res.body.predictions.map((p: { filename: string }) => p.filename)).toEqual(img.LABELS.map((l) => `${l}.jpg`));
    expect(served(app).stats().batches).toBeGreaterThanOrEqual(4);
  });

  it('answers 503 with Retry-After at once when the queue is full, and completes what it accepted', async () => {
    app = await buildApp({ INFERENCE_WORKERS: '1', MAX_BATCH_SIZE: '1', MAX_QUEUE: '2', CACHE_MAX_ENTRIES: '0' });
    const responses = await Promise.all(
      Array.from({ length: 30 }, () => request(app!.server).post('/predict').set('Content-Type', 'image/jpeg').send(img.photo('cat'))),
    );
    const codes = responses.map((r) => r.status);
    expect(codes.filter((c) => c === 200).length).toBeGreaterThan(0);
    expect(codes.filter((c) => c === 503).length).toBeGreaterThan(0);
    expect(codes.filter((c) => c !== 200 && c !== 503)).toEqual([]);
    const rejected = responses.find((r) => r.status === 503)!;
    expect(rejected.headers['retry-after']).toBe('1');
    expect(rejected.body.type).toBe('urn:ml-inference-api:problem:overloaded');
  });

  it('replaces a worker that dies; the server stays up and keeps answering', async () => {
    app = await buildApp({ INFERENCE_WORKERS: '2', CACHE_MAX_ENTRIES: '0' });
    const pool = app.models.pool!;
    const load = Array.from({ length: 16 }, () => request(app!.server).post('/predict').attach('file', img.photo('dog'), 'dog.jpg').then((r) => r.status));
    expect(pool.crashOne()).toBe(true);
    const statuses = await Promise.all(load);
    // Images of the dead instance are retried once on the other one.
    expect(statuses.filter((s) => s !== 200 && s !== 503)).toEqual([]);
    for (let i = 0; i < 100 && pool.size < 2; i++) await new Promise((r) => setTimeout(r, 50));
    expect(pool.size).toBe(2);
    const after = await request(app.server).post('/predict').attach('file', img.photo('dog'), 'dog.jpg');
    expect(after.status).toBe(200);
    expect((await request(app.server).get('/ready')).status).toBe(200);
  });
});
