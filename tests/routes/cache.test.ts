/** The prediction cache through HTTP: embedded LRU, and a real redis-server that goes away and comes back. */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, served, SHIPPED_MODEL } from '../helpers/app.js';
import * as img from '../helpers/images.js';
import { RedisServer } from '../helpers/redis.js';

function predict(app: FastifyInstance, label: (typeof img.LABELS)[number], topK?: number) {
  const req = request(app.server).post(`/predict${topK ? `?top_k=${topK}` : ''}`);
  return req.attach('file', img.photo(label), `${label}.jpg`);
}

/** Cache writes do not hold up the response: wait until the next request is a hit. */
async function untilHit(app: FastifyInstance, label: (typeof img.LABELS)[number]) {
  for (let i = 0; i < 50; i++) {
    const res = await predict(app, label);
    if (res.body.cached === true) return res;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the cache never answered');
}

async function cacheErrors(app: FastifyInstance): Promise<number> {
  const metric = await app.metrics.registry.getSingleMetric('mlapi_cache_errors_total')?.get();
  return (metric?.values ?? []).reduce((n, v) => n + v.value, 0);
}

describe('embedded cache', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('answers a repeated image from the cache, with the same prediction and any top_k', async () => {
    app = await buildApp();
    const miss = await predict(app, 'ship');
    expect(miss.status).toBe(200);
    expect(miss.body.cached).toBe(false);
    expect(miss.headers['x-cache']).toBe('MISS');
    const batchesBefore = served(app).stats().batches;

    const hit = await predict(app, 'ship', 5);
    expect(hit.status).toBe(200);
    expect(hit.body.cached).toBe(true);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.body.probabilities).toEqual(miss.body.probabilities);
    expect(hit.body.class_label).toBe(miss.body.class_label);
    expect(hit.body.top_k).toHaveLength(5);
    // No inference ran for the hit.
    expect(served(app).stats().batches).toBe(batchesBefore);
  });

  it('mixes hits and misses within /predict/batch', async () => {
    app = await buildApp();
    await predict(app, 'cat');
    const res = await request(app.server)
      .post('/predict/batch')
      .attach('files', img.photo('cat'), 'cat.jpg')
      .attach('files', img.photo('dog'), 'dog.jpg')
      .attach('files', img.photo('cat'), 'cat-again.jpg');
    expect(res.status).toBe(200);
    expect(res.body.predictions.map((p: { cached: boolean }) => p.cached)).toEqual([true, false, true]);
    expect(res.headers['x-cache-hits']).toBe('2');
  });

  it('expires entries after CACHE_TTL_S', async () => {
    app = await buildApp({ CACHE_TTL_S: '1' });
    await predict(app, 'frog');
    expect((await predict(app, 'frog')).body.cached).toBe(true);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await predict(app, 'frog')).body.cached).toBe(false);
  });

  it('is off with CACHE_MAX_ENTRIES=0: every request runs the model and no cache header is sent', async () => {
    app = await buildApp({ CACHE_MAX_ENTRIES: '0' });
    await predict(app, 'deer');
    const again = await predict(app, 'deer');
    expect(again.body.cached).toBe(false);
    expect(again.headers['x-cache']).toBeUndefined();
  });
});

describe('Redis cache', () => {
  let redis: RedisServer;
  let app: FastifyInstance | undefined;
  let other: FastifyInstance | undefined;
  const dirs: string[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterEach(async () => {
    await app?.close();
    await other?.close();
    app = other = undefined;
    if (!redis.running) await redis.restart();
  });
  afterAll(async () => {
    await redis.kill();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('stores predictions in Redis under namespaced keys with a TTL, shared by replicas', async () => {
    const env = { REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'test-shared:', CACHE_TTL_S: '120' };
    app = await buildApp(env);
    expect((await predict(app, 'horse')).body.cached).toBe(false);
    await untilHit(app, 'horse');

    const client = new Redis(redis.url);
    // Under the prefix: this cache entry, and the fleet's reports of what each replica serves.
    const all = await client.keys('test-shared:*');
    const keys = all.filter((k) => !k.startsWith('test-shared:fleet:'));
    expect(all.filter((k) => k.startsWith('test-shared:fleet:')).every((k) => k.startsWith('test-shared:fleet:replicas:'))).toBe(true);
    expect(keys.length).toBe(1);
    expect(keys[0]).toMatch(/^test-shared:cifar10:1@[0-9a-f]{12}:[0-9a-f]{64}$/);
    const ttl = await client.ttl(keys[0]!);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(120);
    client.disconnect();

    // A second replica with the same Redis answers from the shared cache at once.
    other = await buildApp(env);
    const fromOther = await predict(other, 'horse');
    expect(fromOther.body.cached).toBe(true);
    expect(fromOther.headers['x-cache']).toBe('HIT');
  });

  it('lets entries expire after CACHE_TTL_S', async () => {
    app = await buildApp({ REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'test-ttl:', CACHE_TTL_S: '1' });
    await predict(app, 'truck');
    await untilHit(app, 'truck');
    await new Promise((r) => setTimeout(r, 2100));
    expect((await predict(app, 'truck')).body.cached).toBe(false);
  });

  it('does not serve answers of another model version', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'repo-v2-'));
    dirs.push(dir);
    cpSync(SHIPPED_MODEL, join(dir, 'cifar10', '2'), { recursive: true });

    const env = { REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'test-version:' };
    app = await buildApp(env);
    await predict(app, 'bird');
    await untilHit(app, 'bird');

    other = await buildApp({ ...env, MODEL_REPOSITORY: dir });
    const v2 = await predict(other, 'bird');
    expect(v2.body.model.version).toBe('2');
    expect(v2.body.cached).toBe(false);
    // The old version's entry is still there for replicas that serve it.
    expect((await predict(app, 'bird')).body.cached).toBe(true);
  });

  it('keeps answering without the cache while Redis is down, and uses it again once Redis is back', async () => {
    app = await buildApp({ REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'test-outage:' });
    await predict(app, 'airplane');
    await untilHit(app, 'airplane');

    await redis.kill();
    const errorsBefore = await cacheErrors(app);
    const during = await Promise.all(img.LABELS.map((l) => predict(app!, l)));
    expect(during.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(during.every((r) => r.body.cached === false)).toBe(true);
    expect(await cacheErrors(app)).toBeGreaterThan(errorsBefore);

    // A fresh Redis (nothing persisted): the client reconnects by itself and fills it again.
    await redis.restart();
    const res = await untilHit(app, 'automobile');
    expect(res.status).toBe(200);
  });

  it('treats a Redis that does not answer in time as a miss', async () => {
    app = await buildApp({ REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'test-slow:', REDIS_TIMEOUT_MS: '50' });
    await predict(app, 'dog');
    await untilHit(app, 'dog');
    const client = new Redis(redis.url);
    await client.call('CLIENT', 'PAUSE', '1500', 'ALL');
    const res = await predict(app, 'dog');
    expect(res.status).toBe(200);
    expect(res.body.cached).toBe(false);
    client.disconnect();
    await new Promise((r) => setTimeout(r, 1600));
  });
});
