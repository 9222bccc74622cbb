/** Real image files of every awkward kind, generated with sharp (and zlib for the bomb). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';

export const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'images');
export const LABELS = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'] as const;

/** A real CIFAR-10 validation photo (32×32 JPEG). */
export function photo(label: (typeof LABELS)[number]): Buffer {
  return readFileSync(join(FIXTURES, `${label}.jpg`));
}

/** A colourful gradient, so that conversions can be told apart. */
function gradient(width: number, height: number, channels: 3 | 4): Buffer {
  const buf = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * channels;
      buf[o] = (x * 255) / Math.max(1, width - 1);
      buf[o + 1] = (y * 255) / Math.max(1, height - 1);
      buf[o + 2] = 128;
      if (channels === 4) buf[o + 3] = x < width / 2 ? 0 : 255;
    }
  }
  return buf;
}

export async function pngRgb(width = 64, height = 48): Promise<Buffer> {
  return sharp(gradient(width, height, 3), { raw: { width, height, channels: 3 } }).png().toBuffer();
}

export async function pngRgba(width = 64, height = 64): Promise<Buffer> {
  return sharp(gradient(width, height, 4), { raw: { width, height, channels: 4 } }).png().toBuffer();
}

export async function pngGray(width = 40, height = 40): Promise<Buffer> {
  return sharp(gradient(width, height, 3), { raw: { width, height, channels: 3 } }).toColourspace('b-w').png().toBuffer();
}

export async function png16bit(width = 32, height = 32): Promise<Buffer> {
  return sharp(gradient(width, height, 3), { raw: { width, height, channels: 3 } }).toColourspace('rgb16').png().toBuffer();
}

export async function pngPalette(width = 32, height = 32): Promise<Buffer> {
  return sharp(gradient(width, height, 3), { raw: { width, height, channels: 3 } }).png({ palette: true, colours: 16 }).toBuffer();
}

export async function onePixel(): Promise<Buffer> {
  return sharp({ create: { width: 1, height: 1, channels: 3, background: { r: 200, g: 10, b: 10 } } }).png().toBuffer();
}

export async function jpegCmyk(width = 48, height = 48): Promise<Buffer> {
  return sharp(gradient(width, height, 3), { raw: { width, height, channels: 3 } }).toColourspace('cmyk').jpeg().toBuffer();
}

/** A landscape photo stored rotated, with EXIF orientation 6 (display rotated 90° clockwise). */
export async function jpegExifRotated(): Promise<Buffer> {
  return sharp(photo('ship')).resize(64, 32, { fit: 'fill' }).withMetadata({ orientation: 6 }).jpeg().toBuffer();
}

export async function webp(): Promise<Buffer> {
  return sharp(photo('cat')).webp().toBuffer();
}

export async function tiff(): Promise<Buffer> {
  return sharp(photo('dog')).tiff().toBuffer();
}

export async function avif(): Promise<Buffer> {
  return sharp(photo('frog')).avif().toBuffer();
}

export async function animatedGif(): Promise<Buffer> {
  const frames = await Promise.all([photo('cat'), photo('dog'), photo('ship')].map((p) => sharp(p).png().toBuffer()));
  return sharp(frames, { join: { animated: true } }).gif({ delay: 100 }).toBuffer();
}

/** A real JPEG cut at `fraction` of its length. */
export function truncatedJpeg(fraction = 0.5): Buffer {
  const full = photo('horse');
  return full.subarray(0, Math.floor(full.length * fraction));
}

export const svg = Buffer.from(
  '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="32" height="32"><rect width="32" height="32" fill="red"/></svg>',
);

export const textFile = Buffer.from('This is a plain text file that claims to be a JPEG.\n');

export const pdf = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const byte of buf) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/**
 * A valid 1-bit grayscale PNG of `size`×`size` pixels (default 20000², 400 MP) that
 * compresses to a few kilobytes: a decompression bomb.
 */
export function pngBomb(size = 20000): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // grayscale
  const row = Math.ceil(size / 8) + 1;
  const raw = Buffer.alloc(row * size); // filter byte 0 + zero pixels on every row
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
