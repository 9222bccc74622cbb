import type { PreprocessingContract } from './contract.js';

/**
 * Write the normalised float image for `rgb` (interleaved 8-bit RGB, contract size) into
 * `out` at `offset`, in the contract's layout: HWC (NHWC models) or planar CHW (NCHW
 * models, as PyTorch exports them). The same function feeds training and serving.
 */
export function normalizeInto(rgb: Uint8Array, contract: PreprocessingContract, out: Float32Array, offset = 0): void {
  const { scale, mean, std } = contract;
  const a = [scale / std[0], scale / std[1], scale / std[2]];
  const b = [-mean[0] / std[0], -mean[1] / std[1], -mean[2] / std[2]];
  const n = contract.width * contract.height * 3;
  if (rgb.length !== n) throw new RangeError(`expected ${n} bytes of RGB, got ${rgb.length}`);
  if (contract.layout === 'NCHW') {
    const plane = n / 3;
    for (let p = 0, i = 0; p < plane; p++, i += 3) {
      out[offset + p] = rgb[i]! * a[0]! + b[0]!;
      out[offset + plane + p] = rgb[i + 1]! * a[1]! + b[1]!;
      out[offset + 2 * plane + p] = rgb[i + 2]! * a[2]! + b[2]!;
    }
    return;
  }
  for (let i = 0; i < n; i += 3) {
    out[offset + i] = rgb[i]! * a[0]! + b[0]!;
    out[offset + i + 1] = rgb[i + 1]! * a[1]! + b[1]!;
    out[offset + i + 2] = rgb[i + 2]! * a[2]! + b[2]!;
  }
}

/** Normalise one image into a new array. */
export function normalize(rgb: Uint8Array, contract: PreprocessingContract): Float32Array {
  const out = new Float32Array(contract.width * contract.height * 3);
  normalizeInto(rgb, contract, out);
  return out;
}

/** The 8-bit RGB (interleaved) a normalised input came from: normalizeInto undone, rounded. */
export function denormalize(input: Float32Array, contract: PreprocessingContract): Uint8Array {
  const { scale, mean, std } = contract;
  const plane = contract.width * contract.height;
  const rgb = new Uint8Array(plane * 3);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      const v = input[contract.layout === 'NCHW' ? c * plane + p : p * 3 + c]!;
      rgb[p * 3 + c] = Math.min(255, Math.max(0, Math.round((v * std[c]! + mean[c]!) / scale)));
    }
  }
  return rgb;
}
