import { describe, expect, it } from 'vitest';
import { cifarContract } from '../../src/preprocessing/contract.js';
import { decodeToContract } from '../../src/preprocessing/decode.js';
import { ImageError, hasImageSignature, inspectImage, prepareImage } from '../../src/preprocessing/image.js';
import { normalize } from '../../src/preprocessing/normalize.js';
import * as img from '../helpers/images.js';

const contract = cifarContract([0.5, 0.4, 0.3], [0.25, 0.2, 0.1]);
const limits = { maxInputPixels: 25_000_000 };

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return err instanceof ImageError ? err.code : `other: ${String(err)}`;
  }
}

describe('preprocessing', () => {
  it('normalises per channel exactly as the contract says', () => {
    const rgb = new Uint8Array(32 * 32 * 3).fill(255);
    rgb[0] = 0;
    const out = normalize(rgb, contract);
    expect(out[0]).toBeCloseTo((0 - 0.5) / 0.25, 6);
    expect(out[1]).toBeCloseTo((1 - 0.4) / 0.2, 6);
    expect(out[2]).toBeCloseTo((1 - 0.3) / 0.1, 6);
    expect(() => normalize(new Uint8Array(10), contract)).toThrow(RangeError);
  });

  it('a 32×32 sRGB JPEG decodes to its own pixels (no resize), like training data', async () => {
    const { rgb } = await decodeToContract(img.photo('cat'), contract);
    expect(rgb).toHaveLength(3072);
    const again = await decodeToContract(img.photo('cat'), contract);
    expect(again.rgb).toEqual(rgb);
  });

  it('flattens transparency onto the contract background', async () => {
    const { rgb } = await decodeToContract(await img.pngRgba(64, 64), contract);
    // the left half of the source is fully transparent → white
    expect(Array.from(rgb.subarray(0, 3))).toEqual([255, 255, 255]);
  });

  it('applies EXIF orientation before resizing', async () => {
    const rotated = await img.jpegExifRotated();
    const header = await inspectImage(rotated, limits);
    expect([header.width, header.height]).toEqual([64, 32]);
    const { rgb } = await decodeToContract(rotated, cifarContract([0, 0, 0], [1, 1, 1]));
    expect(rgb).toHaveLength(3072);
  });

  it('classifies bad inputs by cause', async () => {
    expect(await codeOf(prepareImage(Buffer.alloc(0), contract, limits))).toBe('empty');
    expect(await codeOf(prepareImage(img.textFile, contract, limits))).toBe('not_an_image');
    expect(await codeOf(prepareImage(img.svg, contract, limits))).toBe('unsupported_format');
    expect(await codeOf(prepareImage(img.truncatedJpeg(0.5), contract, limits))).toBe('undecodable');
    expect(await codeOf(prepareImage(img.truncatedJpeg(0.9), contract, limits))).toBe('undecodable');
    expect(await codeOf(prepareImage(img.pngBomb(), contract, limits))).toBe('too_many_pixels');
    expect(await codeOf(prepareImage(await img.pngRgb(), contract, { maxInputPixels: 100 }))).toBe('too_many_pixels');
    expect(await codeOf(prepareImage(await img.avif(), contract, limits))).toBe('ok');
  });

  it('recognises raster signatures even when the rest is broken', () => {
    expect(hasImageSignature(img.truncatedJpeg(0.1))).toBe(true);
    expect(hasImageSignature(img.textFile)).toBe(false);
    expect(hasImageSignature(img.svg)).toBe(false);
  });
});
