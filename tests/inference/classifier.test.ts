import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/inference/backend.js';
import { ImageClassifier } from '../../src/inference/classifier.js';
import { ModelRegistry } from '../../src/inference/registry.js';
import { SHIPPED_MODEL } from '../helpers/app.js';

const INSTANCES = { workers: 0, maxBatchSize: 8, maxDelayMs: 0, maxQueue: 16, backend: 'wasm' as const, warmupRuns: 0 };

function copyWithMetadata(change: (m: Record<string, unknown>) => void): string {
  const dir = mkdtempSync(join(tmpdir(), 'model-'));
  cpSync(SHIPPED_MODEL, dir, { recursive: true });
  const meta = JSON.parse(readFileSync(join(dir, 'metadata.json'), 'utf8')) as Record<string, unknown>;
  change(meta);
  writeFileSync(join(dir, 'metadata.json'), JSON.stringify(meta));
  return dir;
}

describe('ImageClassifier', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('loads, warms up and classifies a batch as one tensor without leaking', async () => {
    const model = await ImageClassifier.load(SHIPPED_MODEL, 1);
    const before = tf.memory().numTensors;
    const inputs = [new Float32Array(3072).fill(0.5), new Float32Array(3072).fill(-0.5)];
    const batch = await model.classify(inputs);
    const single = await model.classify([inputs[1]!]);
    expect(batch).toHaveLength(2);
    for (const p of batch) expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    batch[1]!.forEach((p, i) => expect(p).toBeCloseTo(single[0]![i]!, 5));
    expect(tf.memory().numTensors).toBe(before);
    await expect(model.classify([new Float32Array(10)])).rejects.toThrow(/expected 3072/);
    model.dispose();
    await expect(model.classify(inputs)).rejects.toThrow(/disposed/);
  });

  it('refuses metadata that disagrees with the model', async () => {
    const wrongLabels = copyWithMetadata((m) => (m.labels = ['a', 'b', 'c']));
    await expect(ImageClassifier.load(wrongLabels)).rejects.toThrow(/output shape .* 3 labels/);
    const wrongInput = copyWithMetadata((m) => (m.inputShape = [64, 64, 3]));
    await expect(ImageClassifier.load(wrongInput)).rejects.toThrow(/input shape/);
    const invalid = copyWithMetadata((m) => delete m.preprocessing);
    await expect(ImageClassifier.load(invalid)).rejects.toThrow(/invalid .*metadata.json/);
  });

  it('the registry serves a default model by name and reports failures', async () => {
    const registry = new ModelRegistry();
    await registry.load([SHIPPED_MODEL], INSTANCES);
    expect(registry.state).toBe('ready');
    expect(registry.get()?.name).toBe('cifar10');
    expect(registry.get('cifar10')).toBe(registry.get());
    expect(registry.get('other')).toBeUndefined();
    await registry.dispose();
    const broken = new ModelRegistry();
    await expect(broken.load(['/nonexistent'], INSTANCES)).rejects.toThrow();
    expect(broken.state).toBe('failed');
    expect(broken.failure).toMatch(/nonexistent/);
  });
});
