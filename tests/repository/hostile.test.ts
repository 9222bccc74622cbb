/** Hostile names in URLs and hostile repository content: refused with a reason, nothing else affected. */
import { symlinkSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../helpers/app.js';
import * as img from '../helpers/images.js';
import { TempRepository, versionStates } from '../helpers/repository.js';

interface RawResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  json(): { type: string; detail: string };
}

/** Send the path exactly as given (no client-side normalisation of '..' or '%2e%2e'). */
function raw(app: FastifyInstance, method: string, path: string, body?: Buffer): Promise<RawResponse> {
  const { port } = app.server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: body ? { 'content-type': 'image/jpeg' } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, json: () => JSON.parse(text) as { type: string; detail: string } });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('hostile input', () => {
  const repo = new TempRepository();
  let app: FastifyInstance;
  const secret = join(repo.root, '..', `outside-${Date.now()}.bin`);

  beforeAll(async () => {
    writeFileSync(secret, Buffer.alloc(2634184));
    repo.publish('cifar10', '1');
    repo.config('bad', { version_policy: { all: {} } });
    const weights = (path: string) => (f: { modelJson: (c: (m: { weightsManifest: { paths: string[] }[] }) => void) => void }) =>
      f.modelJson((m) => (m.weightsManifest[0]!.paths = [path]));
    repo.publish('bad', '1', weights('../../etc/passwd'));
    repo.publish('bad', '2', weights('/etc/passwd'));
    repo.publish('bad', '3', (f) => f.write('group1-shard1of1.bin', Buffer.alloc(2634184 + 4)));
    repo.publish('bad', '4', (f) => f.metadata((m) => (m.inputShape = [100000, 100000, 3])));
    repo.publish('bad', '5', (f) => f.metadata((m) => (m.labels = Array.from({ length: 1_000_000 }, (_, i) => `l${i}`))));
    repo.publish('bad', '6', (f) => f.write('metadata.json', '{"labels": ['));
    repo.publish('bad', '7', (f) =>
      f.metadata((m) => {
        m.inputShape = [64, 64, 3];
        (m.preprocessing as Record<string, unknown>).width = 64;
        (m.preprocessing as Record<string, unknown>).height = 64;
      }),
    );
    repo.publish('bad', '8', (f) => {
      symlinkSync(secret, join(f.dir, 'link.bin'));
      f.modelJson((m) => (m.weightsManifest[0]!.paths = ['link.bin']));
    });
    repo.publish('bad', '9', (f) => f.write('padding.bin', Buffer.alloc(10 * 1024 * 1024)));
    repo.publish('bad', '10', (f) => f.metadata((m) => (m.labels = ['one', 'two'])));
    repo.config('misconfigured', '{"version_policy": {"newest": 1}}');
    repo.publish('misconfigured', '1');
    repo.publish('Ünïcode', '1');
    repo.publish('with space', '1');
    // These versions attack TF.js's files: make TF.js the runtime where a folder holds both (ONNX files: onnx.test.ts).
    app = await buildApp({ MODEL_REPOSITORY: repo.root, MODEL_MAX_BYTES: String(12 * 1024 * 1024), INFERENCE_RUNTIME: 'tfjs' });
    await app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await app.close();
    repo.dispose();
    const { rmSync } = await import('node:fs');
    rmSync(secret, { force: true });
  });

  it('refuses model names and versions that could name a path, with a 4xx problem', async () => {
    const names = ['..', '.', '%2e%2e', '%2E%2E', '.hidden', 'a%00b', '%00', 'x'.repeat(300), '%C3%A9t%C3%A9', 'a%2Fb', '..%2F..%2Fetc', '%252e%252e', 'a%5Cb'];
    for (const name of names) {
      for (const [method, url] of [
        ['GET', `/v1/models/${name}`],
        ['GET', `/v1/models/${name}/ready`],
        ['POST', `/v1/models/${name}/predict`],
        ['POST', `/v1/models/${name}/versions/1/predict/batch`],
      ] as const) {
        const res = await raw(app, method, url, method === 'POST' ? img.photo('cat') : undefined);
        expect(res.statusCode, `${method} ${url}`).toBeGreaterThanOrEqual(400);
        expect(res.statusCode, `${method} ${url}`).toBeLessThan(500);
        expect(res.headers['content-type'], `${method} ${url}`).toMatch(/^application\/problem\+json/);
        const body = res.json() as { type: string; detail: string };
        if (res.statusCode === 400) expect(body.type).toBe('urn:ml-inference-api:problem:invalid-model-name');
      }
    }
    const long = await raw(app, 'GET', `/v1/models/${'x'.repeat(300)}`);
    expect(long.json().detail).toMatch(/^invalid model name "x{80}…": 1-64 characters/);
    for (const version of ['0', '01', '-1', '1.0', '..', '%2e%2e', '%2E.', '%00', '9'.repeat(300), '1e3', '%C2%B9']) {
      const res = await raw(app, 'POST', `/v1/models/cifar10/versions/${version}/predict`, img.photo('cat'));
      expect(res.statusCode, version).toBe(400);
      expect(res.json().type).toBe('urn:ml-inference-api:problem:invalid-version');
    }
  });

  it('marks each hostile version FAILED with a clear reason and loads nothing outside the repository', async () => {
    const states = Object.fromEntries((await versionStates(app, 'bad')).map((v) => [v.version, v]));
    const expected: Record<string, RegExp> = {
      '1': /^model\.json names a weight file outside the version folder: "\.\.\/\.\.\/etc\/passwd"$/,
      '2': /^model\.json names a weight file outside the version folder: "\/etc\/passwd"$/,
      '3': /^the weight files hold 2634188 bytes but the manifest describes 2634184$/,
      '4': /^invalid metadata\.json: .*inputShape/,
      '5': /^metadata\.json is \d+ bytes; the limit is 1048576$/,
      '6': /^invalid metadata\.json: .*JSON/,
      '7': /input shape \[null,32,32,3\] does not match metadata inputShape \[null,64,64,3\]/,
      '8': /^weight file link\.bin links outside the version folder$/,
      '9': /^the version holds more than MODEL_MAX_BYTES \(12582912 bytes\)$/,
      '10': /output shape \[null,10\] does not match 2 outputs/,
    };
    for (const [version, reason] of Object.entries(expected)) {
      expect(states[version]?.state, `version ${version}`).toBe('FAILED');
      expect(states[version]?.reason, `version ${version}`).toMatch(reason);
    }
    const ready = await request(app.server).get('/v1/models/bad/ready');
    expect(ready.status).toBe(503);
    expect(ready.body.detail).toMatch(/model 'bad' has no available version/);
    const metrics = (await request(app.server).get('/metrics')).text;
    expect(metrics).toMatch(/^mlapi_model_load_failures_total\{model="bad",version="7"\} 1$/m);
  });

  it('ignores folders that are not model names, and a broken config.json keeps the default policy', async () => {
    const names = (await request(app.server).get('/v1/models')).body.models.map((m: { name: string }) => m.name);
    expect(names).toEqual(['bad', 'cifar10', 'misconfigured']);
    expect(await versionStates(app, 'misconfigured')).toEqual([{ version: '1', state: 'AVAILABLE' }]);
  });

  it('the other models are unaffected: the server is ready and answers', async () => {
    expect((await request(app.server).get('/ready')).status).toBe(200);
    expect((await request(app.server).get('/health')).status).toBe(200);
    const res = await request(app.server).post('/predict').attach('file', img.photo('truck'), 'truck.jpg');
    expect(res.status).toBe(200);
    expect(res.body.class_label).toBe('truck');
  });
});
