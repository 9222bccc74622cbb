/** The explanation methods alone, on functions whose right answer is known. */
import { describe, expect, it } from 'vitest';
import { occlusion, occlusionEvaluations } from '../../src/explain/occlusion.js';
import { maskSampling } from '../../src/explain/sampling.js';
import { exactShapley, MAX_EXACT_FEATURES } from '../../src/explain/shapley.js';
import { cifarContract } from '../../src/preprocessing/contract.js';
import { denormalize, normalize } from '../../src/preprocessing/normalize.js';
import { MAX_IMAGE_EVALUATIONS, planImageExplanation } from '../../src/kinds/image/explain.js';
import type { ImageMetadata } from '../../src/kinds/image/metadata.js';

const evaluateRows = (f: (r: number[]) => number) => async (rows: number[][]) => rows.map(f);

describe('exact Shapley values', () => {
  it('of a linear model are w_i (x_i − b_i)', async () => {
    const w = [2, -1, 0.5, 3];
    const x = [1, 2, 3, 4];
    const b = [0.5, 0.5, 0.5, 0.5];
    const s = await exactShapley(x, b, evaluateRows((r) => r.reduce((a, v, i) => a + w[i]! * v, 7)));
    s.values.forEach((v, i) => expect(v).toBeCloseTo(w[i]! * (x[i]! - b[i]!), 12));
    expect(s.evaluations).toBe(16);
  });

  it('split an interaction evenly and add up to f(x) − f(baseline)', async () => {
    const x = [3, 5, 1];
    const b = [1, 2, 0];
    const f = (r: number[]): number => r[0]! * r[1]! + Math.sin(r[2]!);
    const s = await exactShapley(x, b, evaluateRows(f));
    // φ0 = ½[(x0·b1 − b0·b1) + (x0·x1 − b0·x1)], and symmetrically for feature 1.
    expect(s.values[0]).toBeCloseTo(0.5 * (x[0]! * b[1]! - b[0]! * b[1]! + x[0]! * x[1]! - b[0]! * x[1]!), 12);
    expect(s.values[1]).toBeCloseTo(0.5 * (b[0]! * x[1]! - b[0]! * b[1]! + x[0]! * x[1]! - x[0]! * b[1]!), 12);
    expect(s.values[2]).toBeCloseTo(Math.sin(1), 12);
    expect(s.values.reduce((a, v) => a + v, 0)).toBeCloseTo(f(x) - f(b), 12);
    expect([s.value, s.baselineValue]).toEqual([f(x), f(b)]);
  });

  it(`refuses more than ${MAX_EXACT_FEATURES} features`, async () => {
    const x = new Array(MAX_EXACT_FEATURES + 1).fill(1);
    await expect(exactShapley(x, x, evaluateRows(() => 0))).rejects.toThrow(RangeError);
  });
});

describe('occlusion', () => {
  const g = { height: 32, width: 32, layout: 'NHWC' as const };

  it('finds the region the model looks at, in either layout, at the documented cost', async () => {
    for (const layout of ['NHWC', 'NCHW'] as const) {
      // Class 0's probability is the mean of the red channel in the top-left 8×8 block.
      const red = (x: Float32Array, y: number, c: number): number => x[layout === 'NHWC' ? (y * 32 + c) * 3 : y * 32 + c]!;
      const model = async (inputs: Float32Array[]) =>
        inputs.map((x) => {
          let s = 0;
          for (let y = 0; y < 8; y++) for (let c = 0; c < 8; c++) s += red(x, y, c);
          const p = s / 64;
          return Float32Array.from([p, 1 - p]);
        });
      const input = new Float32Array(32 * 32 * 3).fill(1);
      const result = await occlusion(input, () => 0, { ...g, layout }, { patch: 8, stride: 4 }, model);
      expect(result.evaluations).toBe(occlusionEvaluations(g, { patch: 8, stride: 4 }));
      expect(result.probability).toBe(1);
      expect(result.attribution[0]![0]).toBeGreaterThan(0.4);
      expect(result.attribution[20]![20]).toBe(0);
      expect(result.attribution[31]![31]).toBe(0);
    }
  });

  it('costs (positions per side)² + 1 evaluations, the last position flush with the edge', () => {
    expect(occlusionEvaluations(g, { patch: 8, stride: 4 })).toBe(7 * 7 + 1);
    expect(occlusionEvaluations(g, { patch: 4, stride: 2 })).toBe(15 * 15 + 1);
    expect(occlusionEvaluations(g, { patch: 32, stride: 16 })).toBe(2);
  });
});

describe('random pixel masks', () => {
  it('find the pixels the model uses, deterministically for a seed', async () => {
    // Class 0's probability is the mean of the red channel over the pixels (x, y) with x < 4.
    const model = async (inputs: Float32Array[]) =>
      inputs.map((x) => {
        let s = 0;
        for (let y = 0; y < 32; y++) for (let c = 0; c < 4; c++) s += x[(y * 32 + c) * 3]!;
        return Float32Array.from([s / 128, 1 - s / 128]);
      });
    const input = new Float32Array(32 * 32 * 3).fill(1);
    const g = { height: 32, width: 32, layout: 'NHWC' as const };
    const result = await maskSampling(input, () => 0, g, { masks: 1024, fraction: 0.2, seed: 3 }, model);
    expect(result.evaluations).toBe(1025);
    const used = result.attribution.flatMap((row) => row.slice(0, 4));
    const unused = result.attribution.flatMap((row) => row.slice(4));
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    // Hiding a used pixel costs 1/128 of the probability, an unused one nothing (up to sampling noise).
    expect(mean(used)).toBeCloseTo(1 / 128, 3);
    expect(Math.abs(mean(unused))).toBeLessThan(5e-4);
    // For this linear model the values add up to the drop from hiding every pixel (1).
    expect(result.attribution.flat().reduce((a, b) => a + b, 0)).toBeCloseTo(1, 1);
    // The 128 most attributed pixels are (nearly all) the 128 used ones.
    const top = result.attribution.flatMap((row) => row.map((a, x) => [a, x] as const)).sort((a, b) => b[0] - a[0]).slice(0, 128);
    expect(top.filter(([, x]) => x < 4).length).toBeGreaterThan(0.85 * 128);
    expect((await maskSampling(input, () => 0, g, { masks: 1024, fraction: 0.2, seed: 3 }, model)).attribution).toEqual(result.attribution);
  });
});

describe('denormalize', () => {
  it('gives back the pixels a normalised input came from, in both layouts', () => {
    const rgb = Uint8Array.from({ length: 32 * 32 * 3 }, (_, i) => (i * 37) % 256);
    for (const layout of ['NHWC', 'NCHW'] as const) {
      const contract = { ...cifarContract([0.49, 0.48, 0.45], [0.25, 0.24, 0.26]), layout };
      expect(denormalize(normalize(rgb, contract), contract)).toEqual(rgb);
    }
  });
});

describe('image explanation plans', () => {
  it(`refuse an occlusion that would cost more than ${MAX_IMAGE_EVALUATIONS} evaluations, before preparing or evaluating anything`, () => {
    let prepared = 0;
    const metadata = { labels: ['a', 'b'], preprocessing: { ...cifarContract([0.5, 0.5, 0.5], [0.25, 0.25, 0.25]), width: 224, height: 224 } } as unknown as ImageMetadata;
    const inspect = () => ({
      key: { bytes: new Uint8Array(1) },
      warnings: [],
      prepare: async () => {
        prepared++;
        return { tensor: new Float32Array(224 * 224 * 3) };
      },
    });
    expect(() => planImageExplanation(metadata, inspect, { patch: 4, acceptsPng: false, pngWidth: 256 })).toThrow(/needs 12322 model evaluations; at most 4096: use a larger patch/);
    expect(prepared).toBe(0);
  });
});
