/**
 * The JavaScript baseline-JPEG decoder against sharp (libjpeg-turbo): the same pixels, byte for
 * byte, for every photo it takes, and null (sharp decodes) for what it does not.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeBaselineJpeg } from '../../src/preprocessing/baseline-jpeg.js';
import { cifarContract } from '../../src/preprocessing/contract.js';
import { decodeToContract } from '../../src/preprocessing/decode.js';
import { seededRandom } from '../../src/random.js';
import * as img from '../helpers/images.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
const contract = cifarContract([0.5, 0.5, 0.5], [0.25, 0.25, 0.25]);
const limits = { maxPixels: 25_000_000 };

/** Every fixture photo and every held-out photo the tests carry. */
const photos = [
  ...readdirSync(join(FIXTURES, 'images')).filter((f) => f.endsWith('.jpg')).map((f) => join(FIXTURES, 'images', f)),
  ...readdirSync(join(FIXTURES, 'holdout')).flatMap((d) => readdirSync(join(FIXTURES, 'holdout', d)).map((f) => join(FIXTURES, 'holdout', d, f))),
];

/** What sharp decodes the bytes to, as RGB (grey replicated, as the serving pipeline gives it). */
async function sharpRgb(bytes: Buffer): Promise<Buffer> {
  return sharp(bytes, { failOn: 'error' }).toColourspace('srgb').removeAlpha().raw().toBuffer();
}

describe('baseline JPEG decoder', () => {
  it('gives the serving pipeline’s exact pixels for every fixture and held-out photo', async () => {
    expect(photos.length).toBeGreaterThanOrEqual(110);
    for (const file of photos) {
      const bytes = readFileSync(file);
      const mine = decodeBaselineJpeg(bytes, { ...limits, width: 32, height: 32 });
      expect(mine, file).not.toBeNull();
      const { rgb } = await decodeToContract(bytes, contract);
      expect(Buffer.from(mine!.rgb).equals(Buffer.from(rgb)), file).toBe(true);
    }
  });

  it('matches libjpeg-turbo on every sampling it takes, restart intervals, grey, odd sizes and Huffman-optimised files', async () => {
    // Made by libjpeg-turbo's cjpeg (-sample 2x1 / 1x2 / 2x2 / 1x1, -restart, -grayscale, -optimize).
    const files = ['h2v1-restart.jpg', 'h1v2.jpg', 'h2v2-restart.jpg', 'gray-restart.jpg', 'h1v1-optimized.jpg'];
    for (const name of files) {
      const bytes = readFileSync(join(FIXTURES, 'jpeg', name));
      const mine = decodeBaselineJpeg(bytes, limits);
      expect(mine, name).not.toBeNull();
      const meta = await sharp(bytes).metadata();
      expect([mine!.width, mine!.height], name).toEqual([meta.width, meta.height]);
      expect(Buffer.from(mine!.rgb).equals(await sharpRgb(bytes)), name).toBe(true);
    }
    // sharp's own encoder, at several sizes, qualities and subsamplings.
    const random = seededRandom(7);
    for (const [w, h] of [[32, 32], [67, 45], [17, 9], [200, 131]] as const) {
      const pixels = Buffer.from(Array.from({ length: w * h * 3 }, (_, i) => Math.round(128 + 90 * Math.sin(i / 37) + 30 * random())));
      for (const chromaSubsampling of ['4:2:0', '4:4:4']) {
        for (const quality of [40, 90, 100]) {
          const bytes = await sharp(pixels, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality, chromaSubsampling }).toBuffer();
          const mine = decodeBaselineJpeg(bytes, limits);
          expect(mine).not.toBeNull();
          expect(Buffer.from(mine!.rgb).equals(await sharpRgb(bytes)), `${w}×${h} ${chromaSubsampling} q${quality}`).toBe(true);
        }
      }
    }
  });

  it('leaves to sharp what it does not reproduce: progressive, arithmetic, RGB, CMYK, EXIF, ICC, other sizes, other formats', async () => {
    for (const name of ['progressive.jpg', 'arithmetic.jpg', 'rgb.jpg']) expect(decodeBaselineJpeg(readFileSync(join(FIXTURES, 'jpeg', name)), limits), name).toBeNull();
    expect(decodeBaselineJpeg(await img.jpegCmyk(), limits)).toBeNull();
    expect(decodeBaselineJpeg(await img.jpegExifRotated(), limits)).toBeNull();
    const withIcc = await sharp(img.photo('cat')).withIccProfile('p3').jpeg().toBuffer();
    expect(decodeBaselineJpeg(withIcc, limits)).toBeNull();
    // Another size than asked, or more pixels than allowed: declined before decoding.
    expect(decodeBaselineJpeg(readFileSync(join(FIXTURES, 'jpeg', 'h1v2.jpg')), { ...limits, width: 32, height: 32 })).toBeNull();
    expect(decodeBaselineJpeg(img.photo('cat'), { maxPixels: 1023 })).toBeNull();
    for (const other of [await img.pngRgb(), await img.webp(), img.textFile, Buffer.alloc(0), Buffer.from([0xff, 0xd8])]) expect(decodeBaselineJpeg(other, limits)).toBeNull();
  });

  it('declines every truncation, and never decodes a corrupted file differently from sharp', async () => {
    const bytes = img.photo('ship');
    for (let n = 0; n < bytes.length; n++) expect(decodeBaselineJpeg(bytes.subarray(0, n), limits), `first ${n} bytes`).toBeNull();
    const random = seededRandom(11);
    let decoded = 0;
    for (let trial = 0; trial < 900; trial++) {
      const bad = Buffer.from(img.photo(img.LABELS[trial % img.LABELS.length]!));
      // Headers, tables and entropy-coded data alike; wild coefficients included.
      for (let flips = 1 + Math.floor(random() * 3); flips > 0; flips--) bad[2 + Math.floor(random() * (bad.length - 2))] = Math.floor(random() * 256);
      const mine = decodeBaselineJpeg(bad, limits);
      if (!mine) continue;
      // Taken: sharp (as the server calls it) decodes it too, to the same pixels.
      decoded++;
      expect(Buffer.from(mine.rgb).equals(await sharpRgb(bad)), `trial ${trial}`).toBe(true);
    }
    expect(decoded).toBeGreaterThan(0);
  });
});
