/** Versions added, replaced and removed while requests flow: every request is answered 200. */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp, SHIPPED_MODEL } from '../helpers/app.js';
import * as img from '../helpers/images.js';
import { TempRepository, until, versionStates } from '../helpers/repository.js';

/** Clients sending requests back to back until stopped; records every status and version. */
function steadyLoad(app: FastifyInstance, clients: number) {
  const seen: { status: number; version: string | undefined; type?: string }[] = [];
  let running = true;
  const photos = img.LABELS.map((l) => img.photo(l));
  const loops = Array.from({ length: clients }, async (_, c) => {
    for (let i = 0; running; i++) {
      const batch = (i + c) % 5 === 0;
      const res = batch
        ? await request(app.server).post('/predict/batch').attach('files', photos[i % 10]!, 'a.jpg').attach('files', photos[(i + 3) % 10]!, 'b.jpg')
        : await request(app.server).post('/predict').set('content-type', 'image/jpeg').send(photos[(i + c) % 10]!);
      seen.push({ status: res.status, version: res.headers['x-model-version'] as string | undefined, type: res.body?.type as string | undefined });
    }
  });
  return {
    seen,
    /** Versions answered since `from`. */
    versionsSince: (from: number) => new Set(seen.slice(from).map((s) => s.version)),
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

describe('hot reload under load', () => {
  let app: FastifyInstance | undefined;
  const repos: TempRepository[] = [];
  afterEach(async () => {
    await app?.close();
    app = undefined;
    for (const r of repos.splice(0)) r.dispose();
  });

  it('adds, replaces and removes versions while 4 clients send requests, with every request answered 200', { timeout: 240_000 }, async () => {
    const repo = new TempRepository();
    repos.push(repo);
    repo.publish('cifar10', '1');
    app = await buildApp({ MODEL_REPOSITORY: repo.root, MODEL_POLL_INTERVAL_S: '0.2', INFERENCE_WORKERS: '2', CACHE_MAX_ENTRIES: '0' });
    const load = steadyLoad(app, 4);
    const a = app;
    const answeredBy = async (version: string): Promise<void> => {
      const mark = load.seen.length;
      await until(() => load.seen.length > mark + 8 && [...load.versionsSince(load.seen.length - 4)].every((v) => v === version), `requests answered by version ${version}`, 90_000);
    };
    try {
      await until(() => load.seen.length >= 8, 'the first answers');
      expect(load.versionsSince(0)).toEqual(new Set(['1']));

      // Added: version 2 is published (staged, then renamed) and takes over.
      repo.publish('cifar10', '2', (f) => f.metadata((m) => (m.description = 'v2, first upload')));
      await answeredBy('2');
      await until(async () => (await versionStates(a, 'cifar10')).map((v) => v.version).join() === '2', 'version 1 to be unloaded');

      // Replaced: version 2 is published again with other files; the new copy takes over.
      repo.publish('cifar10', '2', (f) => f.metadata((m) => (m.description = 'v2, second upload')));
      await until(async () => (await request(a.server).get('/v1/models/cifar10')).body.metadata?.description === 'v2, second upload', 'the new copy of version 2');
      const mark = load.seen.length;
      await until(() => load.seen.length > mark + 8, 'requests on the new copy');

      // Removed: version 2 goes, version 1 is the latest again and serves.
      repo.remove('cifar10', '2');
      await answeredBy('1');
    } finally {
      await load.stop();
    }
    const failures = load.seen.filter((s) => s.status !== 200);
    expect(failures).toEqual([]);
    expect(load.seen.length).toBeGreaterThan(40);
    expect(await versionStates(app, 'cifar10')).toEqual([{ version: '1', state: 'AVAILABLE' }]);
  });

  it('keeps the serving version when a new one is corrupt, reports FAILED with the reason, and counts it', { timeout: 120_000 }, async () => {
    const repo = new TempRepository();
    repos.push(repo);
    repo.publish('cifar10', '1');
    app = await buildApp({ MODEL_REPOSITORY: repo.root, MODEL_POLL_INTERVAL_S: '0.2', CACHE_MAX_ENTRIES: '0' });
    const a = app;
    const load = steadyLoad(app, 2);
    try {
      // The file the default runtime (ONNX Runtime) would serve, cut short as a failed copy leaves it.
      repo.publish('cifar10', '2', (f) => f.truncate('model.onnx', 1000));
      await until(async () => (await versionStates(a, 'cifar10')).some((v) => v.version === '2' && v.state === 'FAILED'), 'version 2 to fail');
      const mark = load.seen.length;
      await until(() => load.seen.length > mark + 10, 'more requests after the failure');
    } finally {
      await load.stop();
    }
    expect(load.seen.filter((s) => s.status !== 200)).toEqual([]);
    expect(load.versionsSince(0)).toEqual(new Set(['1']));
    const states = await versionStates(app, 'cifar10');
    expect(states).toEqual([
      { version: '2', state: 'FAILED', reason: expect.stringMatching(/^model\.onnx is not an ONNX model: /) },
      { version: '1', state: 'AVAILABLE' },
    ]);
    const metrics = (await request(app.server).get('/metrics')).text;
    expect(metrics).toMatch(/^mlapi_model_load_failures_total\{model="cifar10",version="2"\} 1$/m);
    const v2 = await request(app.server).post('/v1/models/cifar10/versions/2/predict').attach('file', img.photo('cat'), 'cat.jpg');
    expect(v2.status).toBe(503);
    expect(v2.body.detail).toMatch(/version 2 of model 'cifar10' failed to load: model\.onnx is not an ONNX model/);

    // Fixed in place: a changed version is tried again and takes over.
    repo.publish('cifar10', '2');
    await until(async () => (await versionStates(a, 'cifar10')).map((v) => `${v.version}:${v.state}`).join() === '2:AVAILABLE', 'the fixed version 2');
  });

  it('never loads a version folder before its metadata.json is written', { timeout: 120_000 }, async () => {
    const repo = new TempRepository();
    repos.push(repo);
    repo.publish('cifar10', '1');
    app = await buildApp({ MODEL_REPOSITORY: repo.root, MODEL_POLL_INTERVAL_S: '0.1' });
    const a = app;
    // A copy in progress, written in place: model.json and part of the weights, no marker yet.
    const dir = `${repo.root}/cifar10/5`;
    mkdirSync(dir);
    copyFileSync(`${SHIPPED_MODEL}/model.json`, `${dir}/model.json`);
    writeFileSync(`${dir}/group1-shard1of1.bin`, readFileSync(`${SHIPPED_MODEL}/group1-shard1of1.bin`).subarray(0, 5000));
    const scans = async (): Promise<number> => Number(/mlapi_model_repository_errors_total (\d+)/.exec((await request(a.server).get('/metrics')).text)?.[1] ?? -1);
    expect(await scans()).toBe(0);
    await new Promise((r) => setTimeout(r, 500));
    expect(await versionStates(app, 'cifar10')).toEqual([{ version: '1', state: 'AVAILABLE' }]);
    // The copy finishes: shard complete, then the marker last.
    copyFileSync(`${SHIPPED_MODEL}/group1-shard1of1.bin`, `${dir}/group1-shard1of1.bin`);
    copyFileSync(`${SHIPPED_MODEL}/metadata.json`, `${dir}/metadata.json`);
    await until(async () => (await versionStates(a, 'cifar10')).map((v) => `${v.version}:${v.state}`).join() === '5:AVAILABLE', 'version 5');
    expect((await request(app.server).post('/predict').attach('file', img.photo('deer'), 'deer.jpg')).headers['x-model-version']).toBe('5');
  });

  it('frees every tensor of a replaced or removed version (in-thread instance)', { timeout: 120_000 }, async () => {
    const tf = await import('@tensorflow/tfjs');
    const repo = new TempRepository();
    repos.push(repo);
    repo.publish('cifar10', '1');
    app = await buildApp({ MODEL_REPOSITORY: repo.root, INFERENCE_WORKERS: '0', ADMIN_API_KEYS: 'admin-key-0123456789abcdef', CACHE_MAX_ENTRIES: '0' });
    const admin = (url: string) => request(app!.server).post(url).set('x-api-key', 'admin-key-0123456789abcdef');
    const before = tf.memory();
    for (let round = 0; round < 3; round++) {
      repo.publish('cifar10', '2', (f) => f.metadata((m) => (m.description = `round ${round}`)));
      expect((await admin('/v1/models/cifar10/reload')).body.default_version).toBe('2');
      expect((await request(app.server).post('/predict').attach('file', img.photo('dog'), 'dog.jpg')).status).toBe(200);
      repo.remove('cifar10', '2');
      expect((await admin('/v1/models/cifar10/reload')).body.default_version).toBe('1');
    }
    await until(async () => (await versionStates(app!, 'cifar10')).length === 1, 'version 2 to be gone');
    const after = tf.memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numBytes).toBe(before.numBytes);
  });
});
