/**
 * An attribution map drawn over its image as a PNG: red where hiding the pixels lowered the
 * explained probability (evidence for it), blue where it raised it, transparent where it did
 * nothing; both upscaled to a viewable size.
 */
import sharp from 'sharp';

export async function heatmapPng(rgb: Uint8Array, width: number, height: number, attribution: readonly (readonly number[])[], size = 256): Promise<Buffer> {
  let peak = 0;
  for (const row of attribution) for (const a of row) peak = Math.max(peak, Math.abs(a));
  const overlay = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const a = peak > 0 ? attribution[y]![x]! / peak : 0;
      const o = (y * width + x) * 4;
      overlay[o] = a > 0 ? 255 : 0;
      overlay[o + 1] = a > 0 ? Math.round(160 * (1 - a)) : 64;
      overlay[o + 2] = a > 0 ? 0 : 255;
      overlay[o + 3] = Math.round(200 * Math.abs(a));
    }
  }
  const scale = { width: size, height: Math.round((size * height) / width) };
  const layer = await sharp(overlay, { raw: { width, height, channels: 4 } }).resize({ ...scale, kernel: 'cubic' }).png().toBuffer();
  return sharp(rgb, { raw: { width, height, channels: 3 } })
    .resize({ ...scale, kernel: 'nearest' })
    .composite([{ input: layer }])
    .png()
    .toBuffer();
}
