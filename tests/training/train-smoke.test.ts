/** End-to-end training on a handful of images: train, checkpoint, resume, save, reload. */
import { mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadImageModel } from '../helpers/tfjs.js';
import { computeComplexity } from '../../src/training/complexity.js';
import { DEFAULT_SPEC, buildNetworks } from '../../src/training/model.js';
import { DEFAULT_TRAIN_OPTIONS, train, type TrainOptions } from '../../src/training/train.js';
import { makeTinyDataset } from '../helpers/dataset.js';

function options(dataDir: string, name: string, log: (l: string) => void = () => {}): TrainOptions {
  const dir = mkdtempSync(join(tmpdir(), `train-${name}-`));
  return {
    ...DEFAULT_TRAIN_OPTIONS,
    dataDir,
    outDir: join(dir, 'model'),
    checkpointDir: join(dir, 'ckpt'),
    cacheFile: join(dir, 'cache.bin'),
    epochs: 2,
    batchSize: 10,
    valPerLabel: 1,
    workers: 2,
    backend: 'wasm',
    command: 'test',
    log,
  };
}

async function probabilities(model: tf.LayersModel, inputs: tf.Tensor4D): Promise<Float32Array> {
  const out = model.predict(inputs) as tf.Tensor;
  const data = (await out.data()) as Float32Array;
  out.dispose();
  return data;
}

describe('training pipeline', () => {
  let dataDir: string;
  let inputs: tf.Tensor4D;
  beforeAll(async () => {
    dataDir = await makeTinyDataset(4);
    inputs = tf.randomNormal([5, 32, 32, 3], 0, 1, 'float32', 9) as tf.Tensor4D;
  });

  it('the network fits the budget: ≤ 2 M parameters and ≤ 80 M multiply-adds per image', () => {
    const { model } = buildNetworks(DEFAULT_SPEC);
    const c = computeComplexity(model);
    expect(c.parameters).toBeLessThanOrEqual(2_000_000);
    expect(c.multiplyAdds).toBeLessThanOrEqual(80_000_000);
    // 3×3 stem conv on 32×32: 32·32·27·24 multiply-adds alone
    expect(c.multiplyAdds).toBeGreaterThan(32 * 32 * 27 * 24);
    model.dispose();
  });

  it('trains with two workers, saves model.json + weights + metadata, and reloads to identical outputs', async () => {
    const lines: string[] = [];
    const opts = options(dataDir, 'smoke', (l) => lines.push(l));
    const result = await train(opts);
    expect(lines.some((l) => /epoch 2\/2 step 3\/3 loss [\d.]+ acc [\d.]+% lr [\d.]+ [\d.]+ img\/s ETA/.test(l))).toBe(true);
    expect(lines).toContain('workers: 2 × wasm; main thread: wasm');
    const metadata = JSON.parse(await readFile(join(opts.outDir, 'metadata.json'), 'utf8'));
    expect(metadata).toMatchObject({
      name: 'cifar10',
      labels: ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'],
      inputShape: [32, 32, 3],
      preprocessing: { width: 32, height: 32, scale: 1 / 255 },
      validation: { images: 10, accuracy: expect.any(Number) },
      training: { seed: 42, epochs: 2, backend: 'wasm', workers: 2, command: 'test' },
    });
    expect(metadata.training.history).toHaveLength(2);
    const reloaded = await loadImageModel(opts.outDir, 0);
    const batch = Array.from({ length: 5 }, (_, i) => inputs.slice([i], [1]).dataSync() as Float32Array);
    const fromDisk = await reloaded.predict(batch);
    const inMemory = await probabilities(result.model, inputs);
    // The classifier runs the compiled graph (batch norm folded): equal up to float rounding.
    const served = Float32Array.from(fromDisk.flatMap((p) => Array.from(p)));
    expect(served).toHaveLength(inMemory.length);
    served.forEach((p, i) => expect(Math.abs(p - inMemory[i]!)).toBeLessThan(1e-5));
    reloaded.dispose();
    result.model.dispose();
  });

  it('--resume after an interruption ends with the same weights as an uninterrupted run', async () => {
    const straight = await train(options(dataDir, 'straight'));
    const interrupted = options(dataDir, 'resumed', (l) => {
      if (l.startsWith('epoch 2/2 step 3/3')) throw new Error('simulated crash');
    });
    await expect(train(interrupted)).rejects.toThrow('simulated crash');
    const resumedLines: string[] = [];
    const resumed = await train({ ...interrupted, resume: true, log: (l) => resumedLines.push(l) });
    expect(resumedLines).toContain('resumed from epoch 1 of 2');
    expect(await probabilities(resumed.model, inputs)).toEqual(await probabilities(straight.model, inputs));
    straight.model.dispose();
    resumed.model.dispose();
  });
});
