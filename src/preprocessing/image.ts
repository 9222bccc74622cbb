/**
 * Serving-side image intake: sniff the real format from the bytes, refuse what is not a
 * raster photo format, check the pixel count from the header before decoding, then decode
 * and normalise through the shared contract.
 */
import sharp, { type Metadata } from 'sharp';
import { decodeBaselineJpeg } from './baseline-jpeg.js';
import type { PreprocessingContract } from './contract.js';
import { decodeToContract, type RawPixels } from './decode.js';
import { normalize } from './normalize.js';

export type ImageErrorCode = 'empty' | 'not_an_image' | 'unsupported_format' | 'too_many_pixels' | 'undecodable';

/** A client-side problem with an image; `code` decides the HTTP status. */
export class ImageError extends Error {
  constructor(
    readonly code: ImageErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ImageError';
  }
}

/** Raster formats accepted (sharp's names). AVIF arrives as `heif` with AV1 compression. */
export const SUPPORTED_FORMATS = ['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif'] as const;

const SIGNATURES: [number, number[]][] = [
  [0, [0xff, 0xd8, 0xff]], // JPEG
  [0, [0x89, 0x50, 0x4e, 0x47]], // PNG
  [0, [0x47, 0x49, 0x46, 0x38]], // GIF8
  [0, [0x49, 0x49, 0x2a, 0x00]], // TIFF, little-endian
  [0, [0x4d, 0x4d, 0x00, 0x2a]], // TIFF, big-endian
  [8, [0x57, 0x45, 0x42, 0x50]], // RIFF....WEBP
  [4, [0x66, 0x74, 0x79, 0x70]], // ....ftyp (AVIF/HEIF)
];

/** Whether the bytes start like one of the raster formats, even if the rest is broken. */
export function hasImageSignature(bytes: Uint8Array): boolean {
  return SIGNATURES.some(([offset, sig]) => sig.every((b, i) => bytes[offset + i] === b));
}

/**
 * Serving set-up for sharp: no operation cache (every upload is new bytes, and the cache
 * would only hold memory).
 */
export function configureImageDecoding(): void {
  sharp.cache(false);
}

export interface ImageLimits {
  maxInputPixels: number;
}

export interface ImageHeader {
  format: string;
  width: number;
  height: number;
}

/** Read the header only: format and size, with the format and pixel checks applied. */
export async function inspectImage(bytes: Uint8Array, limits: ImageLimits): Promise<ImageHeader> {
  if (bytes.length === 0) throw new ImageError('empty', 'the image is empty (0 bytes)');
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch {
    if (hasImageSignature(bytes)) throw new ImageError('undecodable', 'the image is corrupt or truncated: its header cannot be read');
    throw new ImageError('not_an_image', 'the content is not a recognised image format');
  }
  let format: string = meta.format ?? 'unknown';
  if (format === 'heif') format = meta.compression === 'av1' ? 'avif' : 'heic';
  if (!(SUPPORTED_FORMATS as readonly string[]).includes(format)) {
    throw new ImageError('unsupported_format', `image format '${format}' is not supported; send one of ${SUPPORTED_FORMATS.join(', ')}`);
  }
  const width = meta.width ?? 0;
  const height = meta.pageHeight ?? meta.height ?? 0;
  if (width <= 0 || height <= 0) throw new ImageError('undecodable', 'the image header has no valid size');
  if (width * height > limits.maxInputPixels) {
    throw new ImageError('too_many_pixels', `the image has ${width}×${height} = ${width * height} pixels; the limit is ${limits.maxInputPixels}`);
  }
  return { format, width, height };
}

export interface PreparedImage extends ImageHeader {
  /** Normalised model input, H × W × 3 floats. */
  input: Float32Array;
}

/**
 * Bytes → normalised model input, or an ImageError saying what is wrong with the image. A plain
 * baseline JPEG already at the contract's size (the common small upload) is decoded in
 * JavaScript, to the same pixels libjpeg-turbo gives (baseline-jpeg.ts) and with nothing to
 * resize; everything else goes through sharp.
 */
export async function prepareImage(bytes: Uint8Array, contract: PreprocessingContract, limits: ImageLimits): Promise<PreparedImage> {
  const small = decodeBaselineJpeg(bytes, { maxPixels: limits.maxInputPixels, width: contract.width, height: contract.height });
  if (small) return { format: 'jpeg', width: small.width, height: small.height, input: normalize(small.rgb, contract) };
  const header = await inspectImage(bytes, limits);
  let rgb: Uint8Array;
  try {
    ({ rgb } = await decodeToContract(bytes, contract, limits.maxInputPixels));
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : 'decoding failed';
    throw new ImageError('undecodable', `the ${header.format} image could not be decoded: ${reason}`);
  }
  return { ...header, input: normalize(rgb, contract) };
}

/**
 * Interleaved 8-bit RGB pixels → normalised model input. Pixels already at the contract's
 * size are normalised directly (no decoding, no resampling); others are resized as files are.
 */
export async function preparePixels(rgb: Uint8Array, size: RawPixels, contract: PreprocessingContract, limits: ImageLimits): Promise<PreparedImage> {
  const { width, height } = size;
  if (rgb.length !== width * height * 3) throw new RangeError(`expected ${width}×${height}×3 bytes of RGB, got ${rgb.length}`);
  if (width * height > limits.maxInputPixels) {
    throw new ImageError('too_many_pixels', `the image has ${width}×${height} = ${width * height} pixels; the limit is ${limits.maxInputPixels}`);
  }
  const header = { format: 'rgb', width, height };
  if (width === contract.width && height === contract.height) return { ...header, input: normalize(rgb, contract) };
  const { rgb: resized } = await decodeToContract(rgb, contract, limits.maxInputPixels, size);
  return { ...header, input: normalize(resized, contract) };
}
