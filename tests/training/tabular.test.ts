/** Tabular training: deterministic with a seed, standardization shared with serving, a version folder the server loads. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/runtimes/tfjs/backend.js';
import { tabularMetadataSchema } from '../../src/kinds/tabular/metadata.js';
import { fitStandardization, standardize } from '../../src/kinds/tabular/standardize.js';
import * as ort from 'onnxruntime-node';
import { overlaps } from '../../src/training/evaluation.js';
import { trainIris, trainWine, type Trained } from '../../src/training/tabular-recipes.js';
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

  const layers = (t: Trained): tf.LayersModel => {
    if (t.model.format !== 'tfjs') throw new Error('expected TF.js layers');
    return t.model.layers;
  };

  it('trains iris the same way twice with one seed, held-out accuracy ≥ 90 %, valid metadata, disjoint splits', async () => {
    // Two candidates and 3 folds keep it quick; the shipped model's grid is the same code.
    const opts = { seed: 7, command: 'test', folds: 3, grid: ['logistic-l2-0', 'logistic-l2-0.01'] };
    const one = await trainIris(opts);
    const two = await trainIris(opts);
    expect(weights(layers(two))).toEqual(weights(layers(one)));
    expect(one.metadata.validation?.accuracy).toBeGreaterThanOrEqual(0.9);
    expect(tabularMetadataSchema.safeParse(one.metadata).success).toBe(true);
    expect(one.metadata.crossValidation).toMatchObject({ folds: 3, rows: 90, tried: [{ candidate: 'logistic-l2-0' }, { candidate: 'logistic-l2-0.01' }] });
    expect(one.metadata.kind === 'tabular-classifier' && one.metadata.calibration?.temperature).toBeGreaterThan(0);
    expect(overlaps(one.splits)).toEqual([]);
    expect([one.splits.train, one.splits.calibration!, one.splits.test].map((p) => p.length)).toEqual([90, 30, 30]);
    const dir = mkdtempSync(join(tmpdir(), 'tabular-'));
    try {
      const path = await writeVersion(dir, 'iris', '3', one);
      expect(JSON.parse(readFileSync(join(path, 'metadata.json'), 'utf8')).kind).toBe('tabular-classifier');
      expect(JSON.parse(readFileSync(join(path, 'splits.json'), 'utf8'))).toEqual(one.splits);
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
      const trained = await trainWine({ seed: 1, command: 'test', data: join(dir, 'wine.csv'), folds: 3, grid: ['mean-mtry3-leaf3', 'most-likely-mtry3-leaf3'] });
      expect(trained.metadata.kind).toBe('tabular-regressor');
      if (trained.model.format !== 'onnx') throw new Error('expected an ONNX forest');
      const session = await ort.InferenceSession.create(trained.model.bytes);
      try {
        const out = await session.run({ features: new ort.Tensor('float32', new Float32Array(11), [1, 11]) });
        const value = (out.prediction!.data as Float32Array)[0]!;
        expect(out.prediction!.dims).toEqual([1, 1]);
        expect(value).toBeGreaterThanOrEqual(3);
        expect(value).toBeLessThanOrEqual(8);
      } finally {
        await session.release();
      }
      expect(tabularMetadataSchema.safeParse(trained.metadata).success).toBe(true);
      expect(trained.metadata.kind === 'tabular-regressor' && trained.metadata.errors).toMatchObject({ interval: { coverage: 0.9 }, rows: 24 });
      expect(overlaps(trained.splits)).toEqual([]);
      expect(trained.splits.train.length + trained.splits.test.length).toBe(120);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
