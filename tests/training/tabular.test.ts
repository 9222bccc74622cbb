/** Tabular training: deterministic with a seed, standardization shared with serving, a version folder the server loads. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/runtimes/tfjs/backend.js';
import { tabularMetadataSchema } from '../../src/kinds/tabular/metadata.js';
import { fitStandardization, standardize } from '../../src/kinds/tabular/standardize.js';
import { trainIris, trainWine } from '../../src/training/tabular-recipes.js';
import { seededRandom, stratifiedSplit, writeVersion } from '../../src/training/tabular.js';

const weights = (m: tf.LayersModel): number[][] => m.getWeights().map((w) => Array.from(w.dataSync()));

describe('tabular training', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('splits by seed, stratified, and standardizes as serving does', () => {
    const rows = Array.from({ length: 40 }, (_, i) => ({ x: [i, i * 2], y: i % 2 }));
    const a = stratifiedSplit(rows, 0.25, 3);
    expect(stratifiedSplit(rows, 0.25, 3)).toEqual(a);
    expect(stratifiedSplit(rows, 0.25, 4)).not.toEqual(a);
    expect(a.test.filter((r) => r.y === 0)).toHaveLength(5);
    expect(a.test.filter((r) => r.y === 1)).toHaveLength(5);
    const s = fitStandardization([[1, 5], [3, 5]]);
    expect(s).toEqual({ mean: [2, 5], std: [1, 1] });
    expect(Array.from(standardize([3, 5], s))).toEqual([1, 0]);
    expect(seededRandom(1)()).toBe(seededRandom(1)());
  });

  it('trains iris the same way twice with one seed, held-out accuracy ≥ 90 %, valid metadata', async () => {
    const one = await trainIris({ seed: 7, command: 'test' });
    const two = await trainIris({ seed: 7, command: 'test' });
    expect(weights(two.model)).toEqual(weights(one.model));
    expect(one.metadata.validation?.accuracy).toBeGreaterThanOrEqual(0.9);
    expect(tabularMetadataSchema.safeParse(one.metadata).success).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'tabular-'));
    try {
      const path = await writeVersion(dir, 'iris', '3', one.model, one.metadata);
      expect(JSON.parse(readFileSync(join(path, 'metadata.json'), 'utf8')).kind).toBe('tabular-classifier');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('trains the wine recipe on a file of the dataset format into a regressor of the score', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wine-'));
    try {
      const random = seededRandom(5);
      const header = 'fixed acidity;volatile acidity;citric acid;residual sugar;chlorides;free sulfur dioxide;total sulfur dioxide;density;pH;sulphates;alcohol;quality';
      const lines = Array.from({ length: 120 }, (_, i) => {
        const alcohol = 9 + random() * 5;
        const quality = 3 + (i % 6);
        return [...Array.from({ length: 10 }, () => (random() * 10).toFixed(3)), (alcohol + quality / 2).toFixed(2), quality].join(';');
      });
      writeFileSync(join(dir, 'wine.csv'), `${header}\n${lines.join('\n')}\n`);
      const trained = await trainWine({ seed: 1, command: 'test', data: join(dir, 'wine.csv') });
      expect(trained.metadata.kind).toBe('tabular-regressor');
      expect(trained.model.outputs[0]!.shape).toEqual([null, 1]);
      const out = (trained.model.predict(tf.tensor2d([Array(11).fill(0)])) as tf.Tensor).dataSync()[0]!;
      expect(out).toBeGreaterThanOrEqual(3);
      expect(out).toBeLessThanOrEqual(8);
      expect(tabularMetadataSchema.safeParse(trained.metadata).success).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
