/**
 * ONNX Runtime beside TF.js: which runtime serves a version and says so, the same answers on
 * the same weights, a PyTorch-style NCHW model served from a hand-written metadata.json, bad
 * ONNX files refused with a reason, and sessions released on unload and shutdown.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InstancePool } from '../../src/inference/pool.js';
import { onnxLiveSessions } from '../../src/runtimes/onnx/model.js';
import { chooseRuntime } from '../../src/runtimes/select.js';
import { buildApp, SHIPPED_MODEL } from '../helpers/app.js';
import * as img from '../helpers/images.js';
import { colourClassifier, colourMetadata, externalData, unknownOperator } from '../helpers/onnx-models.js';
import { TempRepository, versionStates } from '../helpers/repository.js';

const ADMIN_KEY = 'admin-key-0123456789abcdef';
const solid = (r: number, g: number, b: number): Promise<Buffer> => sharp({ create: { width: 40, height: 40, channels: 3, background: { r, g, b } } }).png().toBuffer();

interface Prediction {
  class_label: string;
  probabilities: number[];
  model: { name: string; version: string };
}

describe('choosing a runtime', () => {
  it('takes the only format present, and INFERENCE_RUNTIME (auto: ONNX Runtime) when both are', () => {
    expect(chooseRuntime({ tfjs: true, onnx: false }, 'onnx')).toBe('tfjs');
    expect(chooseRuntime({ tfjs: false, onnx: true }, 'tfjs')).toBe('onnx');
    expect(chooseRuntime({ tfjs: true, onnx: true }, 'auto')).toBe('onnx');
    expect(chooseRuntime({ tfjs: true, onnx: true }, 'onnx')).toBe('onnx');
    expect(chooseRuntime({ tfjs: true, onnx: true }, 'tfjs')).toBe('tfjs');
  });
});

describe('the shipped models on both runtimes', () => {
  let onnxApp: FastifyInstance;
  let tfjsApp: FastifyInstance;
  beforeAll(async () => {
    [onnxApp, tfjsApp] = await Promise.all([buildApp({ CACHE_MAX_ENTRIES: '0' }), buildApp({ CACHE_MAX_ENTRIES: '0', INFERENCE_RUNTIME: 'tfjs' })]);
  });
  afterAll(async () => {
    await Promise.all([onnxApp?.close(), tfjsApp?.close()]);
  });

  it('report the runtime serving each version in /v1/models/{name}, its versions and /ready', async () => {
    for (const [app, runtime, backend] of [
      [onnxApp, 'onnx', 'cpu'],
      [tfjsApp, 'tfjs', 'wasm'],
    ] as const) {
      const detail = await request(app.server).get('/v1/models/cifar10');
      expect(detail.body.versions).toEqual([{ version: '1', state: 'AVAILABLE', runtime, backend }]);
      expect(detail.body.metadata).toMatchObject({ runtime, backend });
      const version = await request(app.server).get('/v1/models/iris/versions/1');
      expect(version.body).toMatchObject({ state: 'AVAILABLE', runtime, backend });
      const ready = await request(app.server).get('/ready');
      expect(ready.status).toBe(200);
      expect(ready.body.models).toEqual(
        expect.arrayContaining([
          ...['cifar10', 'iris'].map((name) => ({ name, version: '1', runtime, backend })),
          // A random forest: only ONNX Runtime serves it, whichever runtime is preferred.
          { name: 'wine-quality', version: '1', runtime: 'onnx', backend: 'cpu' },
        ]),
      );
    }
  });

  it('give the same answers on the same weights: probabilities to 1e-4, identical labels', async () => {
    for (const label of img.LABELS) {
      const [a, b] = await Promise.all(
        [onnxApp, tfjsApp].map(async (app) => (await request(app.server).post('/predict').attach('file', img.photo(label), `${label}.jpg`)).body as Prediction),
      );
      expect(a!.class_label, label).toBe(b!.class_label);
      a!.probabilities.forEach((p, i) => expect(Math.abs(p - b!.probabilities[i]!), label).toBeLessThan(1e-4));
    }
    for (const [name, features] of [
      ['iris', [6.1, 2.8, 4.7, 1.2]],
      ['wine-quality', [7.4, 0.7, 0, 1.9, 0.076, 11, 34, 0.9978, 3.51, 0.56, 9.4]],
    ] as const) {
      const [a, b] = await Promise.all([onnxApp, tfjsApp].map(async (app) => (await request(app.server).post(`/v1/models/${name}/predict`).send({ features })).body));
      if (name === 'iris') expect(a.class_label).toBe(b.class_label);
      else expect(Math.abs(a.prediction - b.prediction)).toBeLessThan(1e-4);
    }
  });

  it('the export check is recorded in metadata.json', () => {
    // The TF.js models exported to ONNX (wine-quality is a forest written as ONNX by its trainer: tests/training/evaluation.test.ts).
    for (const name of ['cifar10', 'iris']) {
      const m = JSON.parse(readFileSync(join(SHIPPED_MODEL, '..', '..', name, '1', 'metadata.json'), 'utf8'));
      expect(m.onnx.check, name).toMatchObject({ passed: true, tolerance: 1e-4 });
      expect(m.onnx.check.maxAbsDiff, name).toBeLessThanOrEqual(1e-4);
      expect(m.onnx.check.top1Agreement, name).toBe(1);
    }
  });
});

describe('a model brought from PyTorch (NCHW, named tensors, logits)', () => {
  const repo = new TempRepository();
  let app: FastifyInstance;
  beforeAll(async () => {
    repo.publish('colours', '1', (f) => {
      for (const file of ['model.json', 'group1-shard1of1.bin', 'model.onnx']) f.remove(file);
      f.write('model.onnx', colourClassifier());
      f.write('metadata.json', JSON.stringify(colourMetadata()));
    });
    app = await buildApp({ MODEL_REPOSITORY: repo.root, DEFAULT_MODEL: 'colours', CACHE_MAX_ENTRIES: '0' });
  });
  afterAll(async () => {
    await app?.close();
    repo.dispose();
  });

  it('is served by ONNX Runtime from its metadata.json alone, fed planar NCHW input', async () => {
    expect(await versionStates(app, 'colours')).toEqual([{ version: '1', state: 'AVAILABLE' }]);
    for (const [colour, rgb] of [
      ['red', [220, 30, 40]],
      ['green', [20, 200, 60]],
      ['blue', [30, 50, 230]],
    ] as const) {
      const res = await request(app.server).post('/predict').attach('file', await solid(rgb[0], rgb[1], rgb[2]), `${colour}.png`);
      expect(res.status, colour).toBe(200);
      expect(res.body.class_label, colour).toBe(colour);
      // softmax over the logits: probabilities that sum to 1.
      expect(res.body.probabilities.reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(1, 5);
      expect(res.body.confidence).toBeGreaterThan(0.9);
    }
    const detail = await request(app.server).get('/v1/models/colours');
    expect(detail.body.metadata).toMatchObject({ runtime: 'onnx', labels: ['red', 'green', 'blue'] });
  });
});

describe('bad ONNX models', () => {
  const repo = new TempRepository();
  let app: FastifyInstance;
  const onnxOnly = (write: (f: ReturnType<TempRepository['files']>) => void) => (f: ReturnType<TempRepository['files']>) => {
    f.remove('model.json');
    f.remove('group1-shard1of1.bin');
    write(f);
  };
  beforeAll(async () => {
    repo.publish('cifar10', '1');
    repo.config('bad', { version_policy: { all: {} } });
    repo.publish('bad', '1', onnxOnly((f) => f.truncate('model.onnx', 100_000)));
    repo.publish('bad', '2', onnxOnly((f) => f.write('model.onnx', img.photo('cat'))));
    repo.publish(
      'bad',
      '3',
      onnxOnly((f) =>
        f.metadata((m) => {
          m.inputShape = [64, 64, 3];
          Object.assign(m.preprocessing as object, { width: 64, height: 64 });
        }),
      ),
    );
    repo.publish('bad', '4', onnxOnly((f) => f.write('model.onnx', unknownOperator())));
    repo.publish('bad', '5', onnxOnly((f) => f.write('model.onnx', externalData('../../../etc/passwd'))));
    repo.publish(
      'bad',
      '6',
      onnxOnly((f) => {
        f.write('model.onnx', colourClassifier({ batch: 1 }));
        f.write('metadata.json', JSON.stringify(colourMetadata()));
      }),
    );
    repo.publish('bad', '7', onnxOnly((f) => f.metadata((m) => (m.onnx = { ...(m.onnx as object), input: 'pixels' }))));
    repo.publish('bad', '8', onnxOnly((f) => f.remove('model.onnx')));
    repo.publish('bad', '9', (f) => f.metadata((m) => ((m.preprocessing as Record<string, unknown>).layout = 'NCHW')));
    app = await buildApp({ MODEL_REPOSITORY: repo.root, CACHE_MAX_ENTRIES: '0' });
  });
  afterAll(async () => {
    await app?.close();
    repo.dispose();
  });

  it('are FAILED with a clear reason, and the other models keep serving', async () => {
    const states = Object.fromEntries((await versionStates(app, 'bad')).map((v) => [v.version, v]));
    const expected: Record<string, RegExp> = {
      '1': /^model\.onnx is not an ONNX model: /,
      '2': /^model\.onnx is not an ONNX model: /,
      '3': /^the ONNX model's input image has shape \["N", 32, 32, 3\] but metadata\.json describes \["N", 64, 64, 3\]$/,
      '4': /^ONNX Runtime could not load the model: .*QuantumFourierTransform/,
      '5': /^model\.onnx keeps tensors in external data files, which are not served/,
      '6': /^the ONNX model's input pixel_values has a fixed batch size of 1; export it with a dynamic first axis$/,
      '7': /^the ONNX model has no input named "pixels" \(it has image\)$/,
      '8': /^the version holds no model: neither model\.json \(TensorFlow\.js\) nor model\.onnx \(ONNX\)$/,
      '9': /^the ONNX model's input image has shape \["N", 32, 32, 3\] but metadata\.json describes \["N", 3, 32, 32\]$/,
    };
    for (const [version, reason] of Object.entries(expected)) {
      expect(states[version]?.state, `version ${version}`).toBe('FAILED');
      expect(states[version]?.reason, `version ${version}`).toMatch(reason);
    }
    const res = await request(app.server).post('/predict').attach('file', img.photo('horse'), 'horse.jpg');
    expect(res.status).toBe(200);
    expect(res.body.class_label).toBe('horse');
  });
});

describe('ONNX Runtime sessions', () => {
  const repo = new TempRepository();
  afterAll(() => repo.dispose());

  it('are released on unload and on shutdown (in-thread instances, counted)', async () => {
    repo.publish('cifar10', '1');
    const before = onnxLiveSessions();
    const app = await buildApp({ MODEL_REPOSITORY: repo.root, INFERENCE_WORKERS: '0', ADMIN_API_KEYS: ADMIN_KEY });
    try {
      expect(onnxLiveSessions()).toBe(before + 1);
      for (let i = 0; i < 5; i++) {
        expect((await request(app.server).post('/v1/models/cifar10/unload').set('x-api-key', ADMIN_KEY)).status).toBe(200);
        expect(onnxLiveSessions()).toBe(before);
        expect((await request(app.server).post('/v1/models/cifar10/load').set('x-api-key', ADMIN_KEY)).status).toBe(200);
        expect(onnxLiveSessions()).toBe(before + 1);
      }
      expect((await request(app.server).post('/predict').attach('file', img.photo('truck'), 'truck.jpg')).body.class_label).toBe('truck');
    } finally {
      await app.close();
    }
    expect(onnxLiveSessions()).toBe(before);
  });
});

describe('inference threads holding ONNX Runtime sessions', () => {
  it('stop between tasks: closing the pool with batches in flight neither aborts the process nor leaves a batch waiting', async () => {
    // A worker terminated from outside while ONNX Runtime computes aborts the whole process
    // ("terminate called after throwing an instance of 'Napi::Error'"): this test would not return.
    const spec = { runtime: 'onnx' as const, file: join(SHIPPED_MODEL, 'model.onnx'), signature: { inputShape: [32, 32, 3], outputs: 10 }, softmax: false, intraOpThreads: 1 };
    for (let round = 0; round < 5; round++) {
      const pool = await InstancePool.start({ workers: 2, backend: 'wasm', warmupRuns: 0 });
      await pool.load('k', spec);
      const runs = Array.from({ length: 4 }, () => pool.run('k', new Float32Array(128 * 3072), 128).then(() => 'done', (err: Error) => err.message));
      await new Promise((r) => setTimeout(r, round * 10));
      await pool.close();
      for (const outcome of await Promise.all(runs)) expect(outcome).toMatch(/^done$|stopped|no inference thread/);
    }
  });
});
