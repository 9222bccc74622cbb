/** A tiny dataset in the CIFAR-10 folder layout, made from the committed fixture photos. */
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { LABELS, photo } from './images.js';

/** `perLabel` JPEGs per label (the photo, flipped, flopped, ...) under a new temp folder. */
export async function makeTinyDataset(perLabel = 4): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), 'cifar-tiny-'));
  for (const label of LABELS) {
    mkdirSync(join(root, label));
    const variants = [
      (s: Sharp) => s,
      (s: Sharp) => s.flop(),
      (s: Sharp) => s.flip(),
      (s: Sharp) => s.flip().flop(),
      (s: Sharp) => s.modulate({ brightness: 1.2 }),
      (s: Sharp) => s.modulate({ brightness: 0.8 }),
    ];
    for (let i = 0; i < perLabel; i++) {
      const bytes = await variants[i % variants.length]!(sharp(photo(label))).jpeg({ quality: 90 }).toBuffer();
      writeFileSync(join(root, label, `${String(i).padStart(4, '0')}.jpg`), bytes);
    }
  }
  return root;
}
