/**
 * Honest evaluation: folds that never share a row, split records whose parts are disjoint (the
 * shipped models' own splits.json included), bootstrap intervals, and random forests whose
 * ONNX export answers exactly what they were judged by.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/random.js';
import { accuracyInterval, bootstrapInterval, calibrate, crossValidate, errorDistribution, foldIndices, overlaps, stratifiedFolds, stratifiedParts, type SplitRecord } from '../../src/training/evaluation.js';
import { exportForest, forestAnswer, trainForest, type ForestAnswer } from '../../src/training/forest.js';

const labels = Array.from({ length: 103 }, (_, i) => (i * 7) % 4);

describe('cross-validation folds', () => {
  it('put every row in exactly one fold, each fold stratified, so no two folds share a row', () => {
    const k = 5;
    const folds = stratifiedFolds(labels, k, 3);
    expect(folds).toEqual(stratifiedFolds(labels, k, 3));
    expect(folds).not.toEqual(stratifiedFolds(labels, k, 4));
    const held = [...Array(k).keys()].map((f) => foldIndices(folds, f).held);
    // Held-out parts are disjoint and cover every row once.
    expect(held.flat().sort((a, b) => a - b)).toEqual([...labels.keys()]);
    for (let f = 0; f < k; f++) {
      const { train, held: h } = foldIndices(folds, f);
      expect(train.filter((i) => h.includes(i))).toEqual([]);
      expect(train.length + h.length).toBe(labels.length);
      // Each label spread evenly: at most one more in one fold than in another.
      for (const y of [0, 1, 2, 3]) {
        const counts = held.map((part) => part.filter((i) => labels[i] === y).length);
        expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
      }
    }
    expect(() => stratifiedFolds(labels, 1, 1)).toThrow(/at least 2 folds/);
  });

  it('split a table into disjoint stratified parts, and a record that shares a row is caught', () => {
    const parts = stratifiedParts(labels, { train: 0, calibration: 0.2, test: 0.2 }, 9);
    const record: SplitRecord = { ids: 'index', train: parts.train.map(String), calibration: parts.calibration.map(String), test: parts.test.map(String) };
    expect(overlaps(record)).toEqual([]);
    expect(parts.train.length + parts.calibration.length + parts.test.length).toBe(labels.length);
    expect(overlaps({ ...record, test: [...record.test, record.train[0]!] })).toEqual([`train ∩ test: 1 rows (e.g. ${record.train[0]!})`]);
    expect(overlaps({ ...record, calibration: [record.calibration![0]!, record.calibration![0]!] })[0]).toMatch(/calibration lists a row twice/);
  });

  it('cross-validate every candidate on every fold, and resume from the checkpoint without refitting', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'cv-'));
    try {
      const checkpoint = join(dir, 'cv.json');
      let fits = 0;
      const fit = (c: number, f: number): { score: number } => {
        fits++;
        return { score: c * 10 + f };
      };
      const candidates = [
        { key: 'a', config: 1 },
        { key: 'b', config: 2 },
      ];
      const first = await crossValidate(candidates, 3, fit, { checkpoint });
      expect(fits).toBe(6);
      expect(first.get('b')).toEqual([{ score: 20 }, { score: 21 }, { score: 22 }]);
      const again = await crossValidate(candidates, 3, fit, { checkpoint });
      expect(fits).toBe(6);
      expect(again).toEqual(first);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the shipped models record which rows they used for what', () => {
  for (const name of ['iris', 'wine-quality', 'spam', 'cifar10']) {
    it(`${name}: train, calibration and test rows are disjoint, and the metadata points at the record`, () => {
      const dir = join('models', name, '1');
      const record = JSON.parse(readFileSync(join(dir, 'splits.json'), 'utf8')) as SplitRecord;
      expect(record.train.length).toBeGreaterThan(0);
      expect(record.test.length).toBeGreaterThan(0);
      expect(overlaps(record)).toEqual([]);
      const metadata = JSON.parse(readFileSync(join(dir, 'metadata.json'), 'utf8')) as { validation: { splits: string } };
      expect(metadata.validation.splits).toBe('splits.json');
    });
  }
});

describe('bootstrap intervals and error distributions', () => {
  it('give a seeded interval around the held-out figure that narrows with more rows', () => {
    const random = seededRandom(2);
    const actual = Array.from({ length: 400 }, () => (random() < 0.5 ? 1 : 0));
    const predicted = actual.map((y) => (random() < 0.8 ? y : 1 - y));
    const wide = accuracyInterval(actual.slice(0, 50), predicted.slice(0, 50));
    const narrow = accuracyInterval(actual, predicted);
    expect(narrow).toEqual(accuracyInterval(actual, predicted));
    for (const i of [wide, narrow]) {
      expect(i.low).toBeLessThanOrEqual(i.value);
      expect(i.high).toBeGreaterThanOrEqual(i.value);
    }
    expect(narrow.high - narrow.low).toBeLessThan(wide.high - wide.low);
    expect(bootstrapInterval(3, () => 1)).toMatchObject({ value: 1, low: 1, high: 1, level: 0.95 });
  });

  it('give a regressor the central interval holding 90 % of its errors', () => {
    const actual = Array.from({ length: 101 }, () => 5);
    const predicted = Array.from({ length: 101 }, (_, i) => 5 + (i - 50) / 50);
    const d = errorDistribution(predicted, actual, 0.9);
    expect(d.interval).toEqual({ low: -0.9, high: 0.9, coverage: 0.9 });
    expect(d.meanAbsoluteError).toBeCloseTo(0.505, 3);
  });

  it('calibrate on one split and judge on another: the fit lowers the calibration NLL', () => {
    const random = seededRandom(4);
    // Over-confident answers: right 70 % of the time at confidence 0.95.
    const make = (n: number): { rows: Float32Array[]; labels: number[]; what: string } => {
      const rows: Float32Array[] = [];
      const ys: number[] = [];
      for (let i = 0; i < n; i++) {
        const y = random() < 0.5 ? 0 : 1;
        const said = random() < 0.7 ? y : 1 - y;
        rows.push(said === 0 ? Float32Array.of(0.95, 0.05) : Float32Array.of(0.05, 0.95));
        ys.push(y);
      }
      return { rows, labels: ys, what: `${n} rows` };
    };
    const report = calibrate(make(600), make(600));
    expect(report.temperature).toBeGreaterThan(1);
    expect(report.calibrationNllAfter).toBeLessThan(report.calibrationNllBefore);
    expect(report.eceAfter).toBeLessThan(report.eceBefore);
  });
});

describe('random forests', () => {
  const random = seededRandom(11);
  const rows = Array.from({ length: 200 }, () => [random() * 4 - 2, random() * 4 - 2, random() * 4 - 2]);
  const score = (r: number[]): number => (r[0]! + r[1]! > 0.3 ? (r[2]! > 0 ? 5 : 4) : 3);

  for (const answer of ['mean', 'most-likely', 'expected'] as ForestAnswer[]) {
    it(`answer ${answer} through ONNX Runtime exactly as the forest was judged`, async () => {
      const task = answer === 'mean' ? 'regression' : 'classification';
      const forest = trainForest(
        rows,
        rows.map((r) => (task === 'regression' ? score(r) : score(r) - 3)),
        { task, classes: 3, trees: 25, mtry: 2, minLeaf: 1, seed: 3 },
      );
      // Training is deterministic with a seed.
      expect(trainForest(rows, rows.map((r) => (task === 'regression' ? score(r) : score(r) - 3)), { task, classes: 3, trees: 25, mtry: 2, minLeaf: 1, seed: 3 })).toEqual(forest);
      const session = await ort.InferenceSession.create(exportForest(forest, { answer, offset: 3, inputName: 'features', outputName: 'prediction', producerVersion: 'test' }));
      try {
        // Rows it was trained on, fresh rows, and rows exactly on thresholds.
        const probe = [...rows.slice(0, 50), ...Array.from({ length: 50 }, () => [random() * 6 - 3, random() * 6 - 3, random() * 6 - 3]), [0, 0, 0]];
        const out = await session.run({ features: new ort.Tensor('float32', Float32Array.from(probe.flat()), [probe.length, 3]) });
        const served = Array.from(out.prediction!.data as Float32Array);
        probe.forEach((r, i) => expect(served[i]!, `row ${i}`).toBeCloseTo(forestAnswer(forest, r, answer, 3), 5));
        // It learned the rule.
        const right = rows.filter((r) => Math.round(forestAnswer(forest, r, answer, 3)) === score(r)).length;
        expect(right / rows.length).toBeGreaterThan(0.9);
      } finally {
        await session.release();
      }
    });
  }
});

describe('a version trained at load', () => {
  it('cross-validates the candidate the shipped version chose', async () => {
    const { SHIPPED_CHOICE, GRIDS } = await import('../../src/training/tabular-recipes.js');
    for (const name of ['iris', 'wine-quality']) {
      const metadata = JSON.parse(readFileSync(join('models', name, '1', 'metadata.json'), 'utf8')) as { crossValidation: { chosen: string } };
      expect(SHIPPED_CHOICE[name], name).toBe(metadata.crossValidation.chosen);
      expect(GRIDS[name], name).toContain(SHIPPED_CHOICE[name]);
    }
  });
});
