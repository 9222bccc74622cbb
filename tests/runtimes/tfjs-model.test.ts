import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/runtimes/tfjs/backend.js';
import { loadImageModel } from '../helpers/tfjs.js';
import { InstancePool } from '../../src/inference/pool.js';
import { SHIPPED_MODEL } from '../helpers/app.js';

const SIGNATURE = { inputShape: [32, 32, 3], outputs: 10 };

function copyWithMetadata(change: (m: Record<string, unknown>) => void): string {
  const dir = mkdtempSync(join(tmpdir(), 'model-'));
  cpSync(SHIPPED_MODEL, dir, { recursive: true });
  const meta = JSON.parse(readFileSync(join(dir, 'metadata.json'), 'utf8')) as Record<string, unknown>;
  change(meta);
  writeFileSync(join(dir, 'metadata.json'), JSON.stringify(meta));
  return dir;
}

describe('TfjsModel', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('loads, warms up and classifies a batch as one tensor without leaking', async () => {
    const model = await loadImageModel(SHIPPED_MODEL, 1);
    const before = tf.memory().numTensors;
    const inputs = [new Float32Array(3072).fill(0.5), new Float32Array(3072).fill(-0.5)];
    const batch = await model.predict(inputs);
    const single = await model.predict([inputs[1]!]);
    expect(batch).toHaveLength(2);
    for (const p of batch) expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    batch[1]!.forEach((p, i) => expect(p).toBeCloseTo(single[0]![i]!, 5));
    expect(tf.memory().numTensors).toBe(before);
    await expect(model.predict([new Float32Array(10)])).rejects.toThrow(/expected 3072/);
    model.dispose();
    await expect(model.predict(inputs)).rejects.toThrow(/disposed/);
  });

  it('refuses metadata that disagrees with the model', async () => {
    const wrongLabels = copyWithMetadata((m) => (m.labels = ['a', 'b', 'c']));
    await expect(loadImageModel(wrongLabels)).rejects.toThrow(/output shape .* 3 outputs/);
    const wrongInput = copyWithMetadata((m) => (m.inputShape = [64, 64, 3]));
    await expect(loadImageModel(wrongInput)).rejects.toThrow(/input shape/);
    const invalid = copyWithMetadata((m) => delete m.preprocessing);
    await expect(loadImageModel(invalid)).rejects.toThrow(/invalid .*metadata.json/);
  });

  it('the in-thread pool holds several versions, runs each by key, and frees them', async () => {
    const pool = await InstancePool.start({ workers: 0, backend: 'wasm', warmupRuns: 0 });
    const before = tf.memory().numTensors;
    await pool.load('a', { runtime: 'tfjs', dir: SHIPPED_MODEL, signature: SIGNATURE });
    await pool.load('b', { runtime: 'tfjs', dir: SHIPPED_MODEL, signature: SIGNATURE });
    const input = new Float32Array(3072).fill(0.25);
    const [a, b] = await Promise.all([pool.run('a', input.slice(), 1), pool.run('b', input.slice(), 1)]);
    expect(Array.from(a)).toEqual(Array.from(b));
    pool.unload('a');
    await expect(pool.run('a', input.slice(), 1)).rejects.toThrow(/not loaded/);
    pool.unload('b');
    expect(tf.memory().numTensors).toBe(before);
    await expect(pool.load('c', { runtime: 'tfjs', dir: '/nonexistent', signature: SIGNATURE })).rejects.toThrow(/nonexistent/);
    await pool.close();
  });
});
