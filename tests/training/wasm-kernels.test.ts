/** The fast wasm gradient kernels agree with the reference `cpu` backend. */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { installWasmTrainingKernels } from '../../src/training/wasm-kernels.js';

// Float32 sums over up to a few thousand terms, in different orders on the two backends:
// the largest difference must stay within 1e-5 of the largest reference value.
const RELATIVE_TOLERANCE = 1e-5;

type Pad = 'same' | 'valid' | number;
interface Case {
  x: [number, number, number, number];
  k: number;
  out: number;
  stride: number;
  pad: Pad;
}

function randomCases(count: number): Case[] {
  let s = 12345;
  const rnd = (n: number): number => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s % n;
  };
  const pads: Pad[] = ['same', 'valid', 0, 1, 2];
  const cases: Case[] = [];
  while (cases.length < count) {
    const k = [1, 2, 3, 4, 5][rnd(5)]!;
    const h = 4 + rnd(10);
    const w = 4 + rnd(10);
    const pad = pads[rnd(pads.length)]!;
    if (typeof pad === 'number' && pad >= k) continue;
    if ((pad === 'valid' || pad === 0) && (h < k || w < k)) continue;
    cases.push({ x: [1 + rnd(3), h, w, 1 + rnd(6)], k, out: 1 + rnd(6), stride: 1 + rnd(3), pad });
  }
  return cases;
}

async function onBackend(name: string, f: () => tf.Tensor): Promise<Float32Array> {
  await tf.setBackend(name);
  const t = f();
  const data = (await t.data()) as Float32Array;
  t.dispose();
  return data;
}

/** max |a − b| / max |a|, with `a` the reference. */
function relativeError(a: Float32Array, b: Float32Array): number {
  expect(b.length).toBe(a.length);
  let diff = 0;
  let scale = 1e-12;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(a[i]!));
  }
  return diff / scale;
}

describe('wasm training kernels', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    installWasmTrainingKernels();
  });

  const cases = [
    { x: [2, 32, 32, 24], k: 3, out: 48, stride: 1, pad: 'same' },
    { x: [2, 8, 8, 96], k: 3, out: 96, stride: 1, pad: 'same' },
    ...randomCases(24),
  ] as Case[];

  it.each(cases)('Conv2DBackpropFilter and Conv2DBackpropInput match cpu: %j', async ({ x, k, out, stride, pad }) => {
    const filterShape: [number, number, number, number] = [k, k, x[3], out];
    const xs = () => tf.randomNormal(x, 0, 1, 'float32', 1) as tf.Tensor4D;
    const fs = () => tf.randomNormal(filterShape, 0, 1, 'float32', 2) as tf.Tensor4D;
    const yShape = tf.backend_util.computeConv2DInfo(x, filterShape, stride, 1, pad).outShape;
    const dys = () => tf.randomNormal(yShape, 0, 1, 'float32', 3) as tf.Tensor4D;
    const dW = () => tf.tidy(() => tf.grad((f: tf.Tensor) => tf.conv2d(xs(), f as tf.Tensor4D, stride, pad).mul(dys()).sum())(fs()));
    const dX = () => tf.tidy(() => tf.grad((v: tf.Tensor) => tf.conv2d(v as tf.Tensor4D, fs(), stride, pad).mul(dys()).sum())(xs()));
    expect(relativeError(await onBackend('cpu', dW), await onBackend('wasm', dW))).toBeLessThan(RELATIVE_TOLERANCE);
    expect(relativeError(await onBackend('cpu', dX), await onBackend('wasm', dX))).toBeLessThan(RELATIVE_TOLERANCE);
    await tf.setBackend('wasm');
  });

  it('Tile matches cpu for every rank and dtype used by gradients', async () => {
    for (const [shape, reps] of [
      [[1, 1, 1, 5], [4, 3, 2, 1]],
      [[2, 3], [3, 1]],
      [[3], [4]],
      [[2, 1, 3], [1, 5, 2]],
    ] as [number[], number[]][]) {
      const f = () => tf.tile(tf.range(0, shape.reduce((a, b) => a * b, 1)).reshape(shape), reps);
      expect(await onBackend('wasm', f)).toEqual(await onBackend('cpu', f));
      const g = () => tf.tile(tf.range(0, shape.reduce((a, b) => a * b, 1), 1, 'int32').reshape(shape), reps);
      expect(await onBackend('wasm', g)).toEqual(await onBackend('cpu', g));
    }
    await tf.setBackend('wasm');
  });
});
