/**
 * Temperature scaling and the expected calibration error, on synthetic answers whose true
 * probabilities are known: a model that reports softmax(z / 2.5) while labels follow softmax(z)
 * is under-confident (as label smoothing leaves one); fitted on one half, the temperature
 * brings the other half's calibration error down and never changes a top-1 label. A version
 * whose metadata holds a temperature is served with its probabilities scaled by it.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyTemperature, expectedCalibrationError, fitTemperature, negativeLogLikelihood } from '../../src/inference/calibration.js';
import { argMax } from '../../src/inference/postprocess.js';
import { seededRandom } from '../../src/random.js';
import { buildApp, SHIPPED_REPOSITORY } from '../helpers/app.js';

const CLASSES = 10;
const softmax = (z: readonly number[], t = 1): Float32Array => {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp((v - m) / t));
  const s = e.reduce((a, b) => a + b, 0);
  return Float32Array.from(e, (v) => v / s);
};

/** `n` answers: what the model reports (softmaxed at `reportedT`) and labels drawn from the true probabilities. */
function answers(n: number, reportedT: number, seed: number): { rows: Float32Array[]; labels: number[] } {
  const random = seededRandom(seed);
  const rows: Float32Array[] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const z = Array.from({ length: CLASSES }, () => random() * 6);
    const truth = softmax(z);
    let u = random();
    let label = 0;
    while (label < CLASSES - 1 && (u -= truth[label]!) > 0) label++;
    rows.push(softmax(z, reportedT));
    labels.push(label);
  }
  return { rows, labels };
}

describe('temperature scaling', () => {
  it('never changes the most likely class, and keeps each row a probability distribution', () => {
    const { rows } = answers(200, 1, 1);
    for (const t of [0.1, 0.4, 1, 2.5, 15]) {
      for (const row of rows) {
        const scaled = applyTemperature(Float32Array.from(row), CLASSES, t);
        expect(argMax(scaled)).toBe(argMax(row));
        expect(scaled.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      }
    }
  });

  it('scales packed rows one by one, as softmax of the logits over T', () => {
    const z = [[1, 2, 3], [0.5, -1, 4]];
    const packed = Float32Array.from([...softmax(z[0]!), ...softmax(z[1]!)]);
    applyTemperature(packed, 3, 2);
    const expected = [...softmax(z[0]!, 2), ...softmax(z[1]!, 2)];
    expected.forEach((v, i) => expect(packed[i]).toBeCloseTo(v, 6));
  });

  it('fitted on a calibration split, lowers its negative log-likelihood and the held-out ECE', () => {
    const calibration = answers(4000, 2.5, 2);
    const held = answers(4000, 2.5, 3);
    const t = fitTemperature(calibration.rows, calibration.labels);
    // The reported answers are softened by 2.5: the fit undoes it.
    expect(t).toBeGreaterThan(0.3);
    expect(t).toBeLessThan(0.5);
    expect(negativeLogLikelihood(calibration.rows, calibration.labels, t)).toBeLessThan(negativeLogLikelihood(calibration.rows, calibration.labels));
    const before = expectedCalibrationError(held.rows, held.labels);
    const after = expectedCalibrationError(
      held.rows.map((r) => applyTemperature(Float32Array.from(r), CLASSES, t)),
      held.labels,
    );
    expect(before).toBeGreaterThan(0.05);
    expect(after).toBeLessThan(0.02);
  });

  it('ECE is 0 for answers exactly as often right as they say, and the gap otherwise', () => {
    // Four answers at confidence 0.75, three of them right.
    const rows = Array.from({ length: 4 }, () => Float32Array.from([0.75, 0.25]));
    expect(expectedCalibrationError(rows, [0, 0, 0, 1])).toBeCloseTo(0, 10);
    expect(expectedCalibrationError(rows, [0, 1, 1, 1])).toBeCloseTo(0.5, 10);
  });
});

describe('a calibrated version, served', () => {
  let dir: string;
  let app: FastifyInstance;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mlapi-calibration-'));
    // The shipped iris without its own temperature (the model's probabilities), and with one of 2.5.
    for (const [name, calibration] of [
      ['iris', undefined],
      ['iris-calibrated', { temperature: 2.5, eceBefore: 0.08, eceAfter: 0.015, fittedOn: 'a test' }],
    ] as const) {
      await cp(join(SHIPPED_REPOSITORY, 'iris'), join(dir, name), { recursive: true });
      const file = join(dir, name, '1', 'metadata.json');
      const { calibration: _shipped, ...metadata } = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
      await writeFile(file, JSON.stringify({ ...metadata, ...(calibration && { calibration }) }));
    }
    app = await buildApp({ MODEL_REPOSITORY: dir, DEFAULT_MODEL: 'iris', CACHE_MAX_ENTRIES: '0' });
  });
  afterAll(async () => {
    await app.close();
    await rm(dir, { recursive: true, force: true });
  });

  const infer = async (model: string): Promise<{ probabilities: number[]; labels: string[] }> => {
    const rows = { inputs: [{ name: 'features', datatype: 'FP64', shape: [3, 4], data: [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3, 5.9, 2.9, 4.5, 1.5] }] };
    const res = await app.inject({ method: 'POST', url: `/v2/models/${model}/infer`, payload: rows });
    expect(res.statusCode).toBe(200);
    const outputs = (res.json() as { outputs: { name: string; data: (number | string)[] }[] }).outputs;
    return { probabilities: outputs.find((o) => o.name === 'probabilities')!.data as number[], labels: outputs.find((o) => o.name === 'label')!.data as string[] };
  };

  it('answers the calibrated probabilities: the model’s scaled by its temperature, the same labels', async () => {
    const raw = await infer('iris');
    const calibrated = await infer('iris-calibrated');
    const expected = applyTemperature(Float32Array.from(raw.probabilities), 3, 2.5);
    calibrated.probabilities.forEach((p, i) => expect(p).toBeCloseTo(expected[i]!, 6));
    expect(calibrated.labels).toEqual(raw.labels);
    // Softer: each answer's confidence is lower than the model's own.
    for (let r = 0; r < 3; r++) expect(Math.max(...calibrated.probabilities.slice(r * 3, r * 3 + 3))).toBeLessThan(Math.max(...raw.probabilities.slice(r * 3, r * 3 + 3)));
  });
});
