/**
 * Random pixel masks (in the spirit of RISE, Petsiuk et al. 2018, with pixel-level masks):
 * evaluate the model on `masks` copies of the image, each with a random `fraction` of its
 * pixels replaced by the dataset mean (0 after normalisation), and give each pixel the
 * target's mean probability over the copies that kept it minus over those that hid it.
 * Pixel-level, runtime-agnostic (it only evaluates the model), and deterministic for a seed.
 */
import { seededRandom } from '../random.js';
import type { OcclusionGeometry } from './occlusion.js';

export interface SamplingOptions {
  masks: number;
  /** Share of the pixels each mask hides. */
  fraction: number;
  seed: number;
}

export async function maskSampling(
  input: Float32Array,
  target: (probabilities: Float32Array) => number,
  g: OcclusionGeometry,
  o: SamplingOptions,
  evaluate: (inputs: Float32Array[]) => Promise<Float32Array[]>,
): Promise<{ attribution: number[][]; probability: number; evaluations: number; target: number; probabilities: Float32Array }> {
  const plane = g.height * g.width;
  const hide = Math.max(1, Math.round(plane * o.fraction));
  const random = seededRandom(o.seed);
  const hidden: Uint8Array[] = [];
  const variants: Float32Array[] = [];
  const order = Array.from({ length: plane }, (_, p) => p);
  for (let m = 0; m < o.masks; m++) {
    // A partial Fisher-Yates shuffle: the first `hide` positions are a uniform random subset.
    for (let i = 0; i < hide; i++) {
      const j = i + Math.floor(random() * (plane - i));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const mask = new Uint8Array(plane);
    const v = Float32Array.from(input);
    for (let i = 0; i < hide; i++) {
      const p = order[i]!;
      mask[p] = 1;
      for (let c = 0; c < 3; c++) v[g.layout === 'NHWC' ? p * 3 + c : c * plane + p] = 0;
    }
    hidden.push(mask);
    variants.push(v);
  }
  const outputs = await evaluate([input, ...variants]);
  const t = target(outputs[0]!);
  const sumHidden = new Float64Array(plane);
  const countHidden = new Uint32Array(plane);
  let total = 0;
  outputs.slice(1).forEach((out, m) => {
    const score = out[t]!;
    total += score;
    const mask = hidden[m]!;
    for (let p = 0; p < plane; p++) {
      if (mask[p]) {
        sumHidden[p] = sumHidden[p]! + score;
        countHidden[p] = countHidden[p]! + 1;
      }
    }
  });
  // Each mask hides a fixed count, so a pixel's kept-minus-hidden difference also carries
  // −1/(plane − 1) of every other pixel's effect: for a model linear in its pixels it is
  // e_p − (E − e_p)/(plane − 1), E the drop from hiding every pixel, which the masks' mean
  // score estimates as (f(x) − mean score) / hidden share. Undone, the values estimate e_p.
  const base = outputs[0]![t]!;
  const everything = (base - total / o.masks) / (hide / plane);
  const attribution = Array.from({ length: g.height }, (_, y) =>
    Array.from({ length: g.width }, (_, x) => {
      const p = y * g.width + x;
      const hiddenN = countHidden[p]!;
      const keptN = o.masks - hiddenN;
      if (hiddenN === 0 || keptN === 0) return 0;
      const difference = (total - sumHidden[p]!) / keptN - sumHidden[p]! / hiddenN;
      return Math.round(((difference * (plane - 1) + everything) / plane) * 1e6) / 1e6;
    }),
  );
  return { attribution, probability: base, evaluations: outputs.length, target: t, probabilities: outputs[0]! };
}
