/**
 * Bytes in, contract-sized 8-bit sRGB pixels out, with sharp. Fastify-free: the server,
 * the training data loader and the evaluation script all decode through here.
 */
import sharp from 'sharp';
import type { PreprocessingContract } from './contract.js';

export interface DecodedImage {
  /** Interleaved RGB, contract.width × contract.height × 3 bytes. */
  rgb: Uint8Array;
  /** Format sniffed from the bytes. */
  format: string;
  /** Size of the source image before resizing (after EXIF orientation). */
  sourceWidth: number;
  sourceHeight: number;
}

/** Decode, orient, flatten, convert to sRGB and resize exactly as the contract says. */
export async function decodeToContract(bytes: Uint8Array, contract: PreprocessingContract, limitInputPixels: number | false = false): Promise<DecodedImage> {
  const image = sharp(bytes, { limitInputPixels, failOn: 'error', animated: false });
  const { data, info } = await image
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
  const meta = await image.metadata();
  if (info.channels !== 3) throw new Error(`expected 3 channels after conversion, got ${info.channels}`);
  const oriented = (meta.orientation ?? 1) >= 5;
  return {
    rgb: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    format: meta.format ?? 'unknown',
    sourceWidth: (oriented ? meta.height : meta.width) ?? info.width,
    sourceHeight: (oriented ? meta.width : meta.height) ?? info.height,
  };
}
