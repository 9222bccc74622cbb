/**
 * Fast training kernels for the tfjs wasm backend.
 *
 * The wasm backend has no Conv2DBackpropFilter, a Conv2DBackpropInput about ten times
 * slower than its forward Conv2D, and a slow Tile (hit by the BatchNorm gradient). Both
 * convolution gradients are rewritten here as a single forward Conv2D (XNNPACK) on
 * transposed or flipped operands; Tile becomes a sequence of block copies.
 * `tests/training/wasm-kernels.test.ts` checks each against the `cpu` backend.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

type TensorInfo = tf.TensorInfo;
type Explicit = [[number, number], [number, number], [number, number], [number, number]];

interface ConvGradAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | Explicit;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function wasmKernel(name: string): tf.KernelFunc {
  return tf.getKernel(name, 'wasm').kernelFunc;
}

function run(backend: BackendWasm, name: string, inputs: Record<string, TensorInfo>, attrs: object): TensorInfo {
  const out = wasmKernel(name)({ inputs, backend, attrs: attrs as tf.NamedAttrMap });
  return out as TensorInfo;
}

function transpose(backend: BackendWasm, x: TensorInfo, perm: number[]): TensorInfo {
  return run(backend, 'Transpose', { x }, { perm });
}

function conv(backend: BackendWasm, x: TensorInfo, filter: TensorInfo, pad: Explicit, dilation: number): TensorInfo {
  return run(backend, 'Conv2D', { x, filter }, {
    strides: [1, 1],
    pad,
    dataFormat: 'NHWC',
    dilations: [dilation, dilation],
  });
}

/** Copy rows [0, rows) and columns [0, cols) of an NHWC tensor (crop at the end only). */
function cropHW(backend: BackendWasm, x: TensorInfo, rows: number, cols: number): TensorInfo {
  return run(backend, 'Slice', { x }, { begin: [0, 0, 0, 0], size: [x.shape[0], rows, cols, x.shape[3]] });
}

function convInfo(xShape: number[], filterShape: number[], attrs: ConvGradAttrs): tf.backend_util.Conv2DInfo {
  if (attrs.dataFormat !== 'NHWC') throw new Error('only NHWC is supported');
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
}

/** dW[kh,kw,ci,co] = Σ x[n, y·s+kh−p, x·s+kw−p, ci] · dy[n,y,x,co]: a conv of xᵀ with dyᵀ dilated by the stride. */
function conv2dBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: BackendWasm; attrs: ConvGradAttrs & { filterShape: number[] } }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const x = inputs.x as TensorInfo;
  const dy = inputs.dy as TensorInfo;
  const info = convInfo(x.shape, attrs.filterShape, attrs);
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  if (sh !== sw) return slowFallback('Conv2DBackpropFilter', args);
  const [, oh, ow] = dy.shape as [number, number, number, number];
  const { top, left } = info.padInfo;
  const [, h, w] = x.shape as [number, number, number, number];
  // Rows of x that the (dilated) dy filter reaches when producing kh output rows.
  const bottom = kh + (oh - 1) * sh - h - top;
  const right = kw + (ow - 1) * sw - w - left;
  const temps: TensorInfo[] = [];
  let xs = x;
  if (bottom < 0 || right < 0) {
    xs = cropHW(backend, x, bottom < 0 ? h + bottom : h, right < 0 ? w + right : w);
    temps.push(xs);
  }
  const xT = transpose(backend, xs, [3, 1, 2, 0]); // [ci, h, w, n]
  const dyT = transpose(backend, dy, [1, 2, 0, 3]); // [oh, ow, n, co]
  const y = conv(backend, xT, dyT, [[0, 0], [top, Math.max(bottom, 0)], [left, Math.max(right, 0)], [0, 0]], sh);
  const out = transpose(backend, y, [1, 2, 0, 3]); // [kh, kw, ci, co]
  for (const t of [...temps, xT, dyT, y]) backend.disposeData(t.dataId);
  return out;
}

/** Flip a [kh,kw,ci,co] filter spatially and swap its channel axes: [kh,kw,co,ci]. */
function flipFilter(backend: BackendWasm, filter: TensorInfo): TensorInfo {
  const [kh, kw, ci, co] = filter.shape as [number, number, number, number];
  const src = backend.typedArrayFromHeap(filter) as Float32Array;
  const out = backend.makeOutput([kh, kw, co, ci], 'float32');
  const dst = backend.typedArrayFromHeap(out) as Float32Array;
  for (let a = 0; a < kh; a++) {
    for (let b = 0; b < kw; b++) {
      const s = ((kh - 1 - a) * kw + (kw - 1 - b)) * ci * co;
      const d = (a * kw + b) * co * ci;
      for (let i = 0; i < ci; i++) {
        for (let o = 0; o < co; o++) dst[d + o * ci + i] = src[s + i * co + o]!;
      }
    }
  }
  return out;
}

/** Insert (stride − 1) zeros between the rows and columns of an NHWC tensor. */
function dilateHW(backend: BackendWasm, x: TensorInfo, stride: number): TensorInfo {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const dh = (h - 1) * stride + 1;
  const dw = (w - 1) * stride + 1;
  const src = backend.typedArrayFromHeap(x) as Float32Array;
  const out = backend.makeOutput([n, dh, dw, c], 'float32');
  const dst = backend.typedArrayFromHeap(out) as Float32Array;
  dst.fill(0);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        const s = ((b * h + i) * w + j) * c;
        dst.set(src.subarray(s, s + c), ((b * dh + i * stride) * dw + j * stride) * c);
      }
    }
  }
  return out;
}

/** dx = conv(dy dilated by the stride and padded to "full", filter flipped and transposed). */
function conv2dBackpropInput(args: { inputs: tf.NamedTensorInfoMap; backend: BackendWasm; attrs: ConvGradAttrs & { inputShape: number[] } }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const dy = inputs.dy as TensorInfo;
  const filter = inputs.filter as TensorInfo;
  const info = convInfo(attrs.inputShape, filter.shape, attrs);
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  if (sh !== sw) return slowFallback('Conv2DBackpropInput', args);
  const [, h, w] = attrs.inputShape as [number, number, number, number];
  const { top, left } = info.padInfo;
  const temps: TensorInfo[] = [];
  let dyd = dy;
  if (sh > 1) {
    dyd = dilateHW(backend, dy, sh);
    temps.push(dyd);
  }
  const [, dh, dw] = dyd.shape as [number, number, number, number];
  const padTop = kh - 1 - top;
  const padLeft = kw - 1 - left;
  let bottom = h - dh + top;
  let right = w - dw + left;
  if (bottom < 0 || right < 0) {
    const cropped = cropHW(backend, dyd, bottom < 0 ? dh + bottom : dh, right < 0 ? dw + right : dw);
    temps.push(cropped);
    dyd = cropped;
    bottom = Math.max(bottom, 0);
    right = Math.max(right, 0);
  }
  const flipped = flipFilter(backend, filter);
  temps.push(flipped);
  const out = conv(backend, dyd, flipped, [[0, 0], [padTop, bottom], [padLeft, right], [0, 0]], 1);
  for (const t of temps) backend.disposeData(t.dataId);
  return out;
}

/** Tile as repeated block copies, one axis at a time from the innermost. */
function tileKernel(args: { inputs: tf.NamedTensorInfoMap; backend: BackendWasm; attrs: { reps: number[] } }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const x = inputs.x as TensorInfo;
  if (x.dtype === 'string') throw new Error('Tile on strings is not supported here');
  const shape = [...x.shape];
  let data: Float32Array | Int32Array | Uint8Array = backend.typedArrayFromHeap(x) as Float32Array;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    const reps = attrs.reps[axis]!;
    if (reps === 1) continue;
    const block = shape.slice(axis).reduce((a, b) => a * b, 1);
    const outer = data.length / Math.max(block, 1);
    const next: Float32Array = new (data.constructor as Float32ArrayConstructor)(data.length * reps);
    for (let o = 0; o < outer; o++) {
      const src = data.subarray(o * block, (o + 1) * block);
      for (let r = 0; r < reps; r++) next.set(src, (o * reps + r) * block);
    }
    data = next;
    shape[axis] = shape[axis]! * reps;
  }
  const out = backend.makeOutput(shape, x.dtype);
  (backend.typedArrayFromHeap(out) as Float32Array).set(data);
  return out;
}

const originals = new Map<string, tf.KernelConfig>();

function slowFallback(name: string, args: object): TensorInfo {
  const original = originals.get(name);
  if (!original) throw new Error(`${name}: unequal strides are not supported on wasm`);
  return original.kernelFunc(args as Parameters<tf.KernelFunc>[0]) as TensorInfo;
}

function register(kernelName: string, kernelFunc: unknown): void {
  const original = tf.getKernel(kernelName, 'wasm') as tf.KernelConfig | undefined;
  if (original) {
    originals.set(kernelName, original);
    tf.unregisterKernel(kernelName, 'wasm');
  }
  tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as tf.KernelFunc });
}

let installed = false;

/** Replace the wasm backend's gradient kernels with the fast versions above (idempotent). */
export function installWasmTrainingKernels(): void {
  if (installed) return;
  installed = true;
  register('Conv2DBackpropFilter', conv2dBackpropFilter);
  register('Conv2DBackpropInput', conv2dBackpropInput);
  register('Tile', tileKernel);
}
