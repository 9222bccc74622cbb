/** A repository in an S3-compatible store (a real s3rver process on loopback). */
import { readdirSync, readFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { FastifyInstance } from 'fastify';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, SHIPPED_MODEL } from '../helpers/app.js';
import * as img from '../helpers/images.js';
import { S3_CREDENTIALS, S3Store } from '../../scripts/lib/s3-store.js';
import { until, versionStates } from '../helpers/repository.js';

describe('S3 repository', () => {
  let s3: S3Store;
  let client: S3Client;
  let app: FastifyInstance;
  const cache = mkdtempSync(join(tmpdir(), 'model-cache-'));
  const put = (key: string, body: Buffer | string) => client.send(new PutObjectCommand({ Bucket: 'models', Key: key, Body: body }));
  const putVersion = async (version: string, change: Record<string, Buffer | string> = {}) => {
    // metadata.json last: the marker that the version is complete.
    for (const file of ['model.json', 'group1-shard1of1.bin', 'metadata.json']) {
      await put(`repo/cifar10/${version}/${file}`, change[file] ?? readFileSync(join(SHIPPED_MODEL, file)));
    }
  };

  beforeAll(async () => {
    s3 = await S3Store.start();
    client = s3.client();
    await client.send(new CreateBucketCommand({ Bucket: 'models' }));
    await putVersion('1');
    process.env.AWS_ACCESS_KEY_ID = S3_CREDENTIALS.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = S3_CREDENTIALS.secretAccessKey;
    app = await buildApp({
      MODEL_REPOSITORY: 's3://models/repo',
      S3_ENDPOINT: s3.url,
      S3_FORCE_PATH_STYLE: 'true',
      MODEL_CACHE_DIR: cache,
      MODEL_POLL_INTERVAL_S: '0.3',
      MODEL_MAX_BYTES: String(4 * 1024 * 1024),
      CACHE_MAX_ENTRIES: '0',
    });
  });
  afterAll(async () => {
    await app?.close();
    await s3?.dispose();
    client?.destroy();
    rmSync(cache, { recursive: true, force: true });
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
  });

  it('downloads a version into MODEL_CACHE_DIR, checked, and serves it', async () => {
    expect(await versionStates(app, 'cifar10')).toEqual([{ version: '1', state: 'AVAILABLE' }]);
    const res = await request(app.server).post('/predict').attach('file', img.photo('truck'), 'truck.jpg');
    expect(res.status).toBe(200);
    expect(res.body.class_label).toBe('truck');
    expect(res.headers['x-model-version']).toBe('1');
    const copies = readdirSync(join(cache, 'cifar10'));
    expect(copies).toHaveLength(1);
    expect(copies[0]).toMatch(/^1-[0-9a-f]{16}$/);
    expect(readdirSync(join(cache, 'cifar10', copies[0]!)).sort()).toEqual(['group1-shard1of1.bin', 'metadata.json', 'model.json']);
    // Nothing is left in the staging area.
    expect(existsSync(join(cache, '.staging')) ? readdirSync(join(cache, '.staging')) : []).toEqual([]);
  });

  it('polls the store: a new version serves once complete; hostile and oversized ones are refused', { timeout: 120_000 }, async () => {
    // Escaping keys: refused before anything is downloaded.
    await put('repo/cifar10/3/metadata.json', readFileSync(join(SHIPPED_MODEL, 'metadata.json')));
    await put('repo/cifar10/3/..%2F..%2Fescape.bin', 'x');
    await put('repo/cifar10/3/sub/../../../escape.bin', 'x');
    // Larger than MODEL_MAX_BYTES.
    await put('repo/cifar10/4/padding.bin', Buffer.alloc(2 * 1024 * 1024));
    await putVersion('4');
    await until(async () => (await versionStates(app, 'cifar10')).some((v) => v.version === '4'), 'version 4 to be tried');
    const states = Object.fromEntries((await versionStates(app, 'cifar10')).map((v) => [v.version, v]));
    const size = ['model.json', 'group1-shard1of1.bin', 'metadata.json'].reduce((n, f) => n + readFileSync(join(SHIPPED_MODEL, f)).length, 2 * 1024 * 1024);
    expect(states['4']).toEqual({ version: '4', state: 'FAILED', reason: `the version holds ${size} bytes; MODEL_MAX_BYTES is 4194304` });
    // The latest policy wants only 4, which failed: version 1 keeps serving.
    expect(states['1']?.state).toBe('AVAILABLE');
    await client.send(new DeleteObjectCommand({ Bucket: 'models', Key: 'repo/cifar10/4/padding.bin' }));
    await client.send(new DeleteObjectCommand({ Bucket: 'models', Key: 'repo/cifar10/4/metadata.json' }));
    await until(async () => (await versionStates(app, 'cifar10')).some((v) => v.version === '3'), 'version 3 to be tried');
    const v3 = (await versionStates(app, 'cifar10')).find((v) => v.version === '3');
    expect(v3?.state).toBe('FAILED');
    expect(v3?.reason).toMatch(/^the store holds a key that escapes the version folder: "repo\/cifar10\/3\//);
    expect(readdirSync(join(cache, 'cifar10')).some((d) => d.startsWith('3-') || d.startsWith('4-'))).toBe(false);
    expect(existsSync(join(cache, 'escape.bin')) || existsSync(join(cache, '..', 'escape.bin'))).toBe(false);

    // A good version 5 takes over.
    await putVersion('5');
    await until(async () => (await request(app.server).post('/predict').attach('file', img.photo('dog'), 'dog.jpg')).headers['x-model-version'] === '5', 'version 5 to serve');
  });

  it('keeps serving while the store is down, counts the errors, and recovers when it is back', { timeout: 120_000 }, async () => {
    const errors = async (): Promise<number> => Number(/^mlapi_model_repository_errors_total (\d+)$/m.exec((await request(app.server).get('/metrics')).text)?.[1]);
    const before = await errors();
    await s3.stop();
    await until(async () => (await errors()) > before, 'a failed scan to be counted');
    for (let i = 0; i < 5; i++) {
      const res = await request(app.server).post('/predict').attach('file', img.photo('horse'), 'horse.jpg');
      expect(res.status).toBe(200);
    }
    expect((await request(app.server).get('/ready')).status).toBe(200);
    await s3.restart();
    await putVersion('6');
    await until(async () => (await request(app.server).post('/predict').attach('file', img.photo('cat'), 'cat.jpg')).headers['x-model-version'] === '6', 'version 6 after the store is back');
  });

  it('starts while the store is down: not ready, counting errors, and loads once the store answers', { timeout: 120_000 }, async () => {
    await s3.stop();
    const late = await buildApp(
      {
        MODEL_REPOSITORY: 's3://models/repo',
        S3_ENDPOINT: s3.url,
        S3_FORCE_PATH_STYLE: 'true',
        MODEL_CACHE_DIR: cache,
        MODEL_POLL_INTERVAL_S: '0.2',
        CACHE_MAX_ENTRIES: '0',
      },
      false,
    );
    try {
      await until(async () => /^mlapi_model_repository_errors_total [1-9]/m.test((await request(late.server).get('/metrics')).text), 'a failed first scan');
      const ready = await request(late.server).get('/ready');
      expect(ready.status).toBe(503);
      expect(ready.body.detail).toMatch(/still loading/);
      expect((await request(late.server).post('/predict').attach('file', img.photo('cat'), 'c.jpg')).status).toBe(503);
      await s3.restart();
      await until(async () => (await request(late.server).get('/ready')).status === 200, 'readiness once the store is back');
    } finally {
      await late.close();
    }
  });
});
