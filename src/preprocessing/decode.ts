/**
 * Bytes in, contract-sized 8-bit sRGB pixels out, with sharp. Fastify-free: the server,
 * the training data loader and the evaluation script all decode through here.
 */
import sharp from 'sharp';
import type { PreprocessingContract } from './contract.js';

export interface DecodedImage {
  /** Interleaved RGB, contract.width × contract.height × 3 bytes. */
  rgb: Uint8Array;
}

/** Interleaved 8-bit RGB pixels of this size, instead of an encoded file. */
export interface RawPixels {
  width: number;
  height: number;
}

/**
 * Decode, orient, flatten, convert to sRGB and resize exactly as the contract says. With
 * `raw`, the bytes are already RGB pixels of that size and are only resized.
 */
export async function decodeToContract(bytes: Uint8Array, contract: PreprocessingContract, limitInputPixels: number | false = false, raw?: RawPixels): Promise<DecodedImage> {
  const source = raw ? { raw: { width: raw.width, height: raw.height, channels: 3 as const } } : { failOn: 'error' as const, animated: false };
  const { data, info } = await sharp(bytes, { limitInputPixels, ...source })
    .rotate()
    .flatten({ background: { r: contract.background[0], g: contract.background[1], b: contract.background[2] } })
    .toColourspace('srgb')
    .resize(contract.width, contract.height, {
      kernel: contract.resize.kernel,
      fit: contract.resize.fit,
      position: contract.resize.position,
      background: { r: contract.background[0], g: contract.background[1], b: contract.background[2] },
    })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || data.length !== contract.width * contract.height * 3) {
    throw new Error(`expected ${contract.width}×${contract.height}×3 bytes after conversion, got ${info.width}×${info.height}×${info.channels}`);
  }
  return { rgb: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}
