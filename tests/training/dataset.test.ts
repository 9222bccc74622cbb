import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CIFAR10_LABELS,
  IMAGE_BYTES,
  Rng,
  augmentInto,
  channelStats,
  decodeDataset,
  listDataset,
  splitDataset,
  type DatasetEntry,
} from '../../src/training/dataset.js';
import { makeTinyDataset } from '../helpers/dataset.js';

describe('dataset loader', () => {
  let root: string;
  let entries: DatasetEntry[];
  beforeAll(async () => {
    root = await makeTinyDataset(5);
    entries = await listDataset(root);
  });

  it('maps folders to labels in the canonical CIFAR-10 order', () => {
    expect(entries).toHaveLength(50);
    for (const e of entries) expect(e.file).toContain(`/${CIFAR10_LABELS[e.label]}/`);
    expect(entries.map((e) => e.label)).toEqual([...entries.map((e) => e.label)].sort((a, b) => a - b));
  });

  it('splits deterministically: the last N files of each label are validation, disjoint from training', () => {
    const a = splitDataset(entries, 2);
    const b = splitDataset(entries, 2);
    expect(a).toEqual(b);
    expect(a.val).toHaveLength(20);
    expect(a.train).toHaveLength(30);
    expect(a.train.filter((i) => a.val.includes(i))).toEqual([]);
    for (const label of CIFAR10_LABELS) {
      const files = readdirSync(join(root, label)).sort();
      const valFiles = a.val.map((i) => entries[i]!).filter((e) => e.file.includes(`/${label}/`)).map((e) => e.file.split('/').pop());
      expect(valFiles).toEqual(files.slice(-2));
    }
  });

  it('decodes once into a cache that the next call reuses', async () => {
    const cache = join(mkdtempSync(join(tmpdir(), 'cache-')), 'data.bin');
    const progress: number[] = [];
    const first = await decodeDataset(entries, cache, (done) => progress.push(done));
    expect(first.count).toBe(50);
    expect(first.images).toHaveLength(50 * IMAGE_BYTES);
    expect(Array.from(first.labels)).toEqual(entries.map((e) => e.label));
    const again = await decodeDataset(entries, cache, () => {
      throw new Error('should come from the cache');
    });
    expect(Buffer.from(again.images).equals(Buffer.from(first.images))).toBe(true);
    const stats = channelStats(first.images, [0, 1, 2]);
    for (const c of [0, 1, 2]) {
      expect(stats.mean[c]).toBeGreaterThan(0);
      expect(stats.mean[c]).toBeLessThan(1);
      expect(stats.std[c]).toBeGreaterThan(0);
    }
  });

  it('augmentation keeps shape and pixel range, and is reproducible from the seed', () => {
    const src = new Uint8Array(IMAGE_BYTES).map((_, i) => (i * 7) % 256);
    const outA = new Uint8Array(IMAGE_BYTES);
    const outB = new Uint8Array(IMAGE_BYTES);
    const seen = new Set<string>();
    const rngA = new Rng(7);
    const rngB = new Rng(7);
    for (let k = 0; k < 20; k++) {
      augmentInto(src, outA, rngA);
      augmentInto(src, outB, rngB);
      expect(outA).toEqual(outB);
      const values = new Set(src);
      for (const v of outA) expect(values.has(v)).toBe(true);
      seen.add(Buffer.from(outA).toString('base64'));
    }
    expect(seen.size).toBeGreaterThan(10);
  });

  it('a zero shift without flip returns the image unchanged; a flip mirrors the rows', () => {
    const src = new Uint8Array(IMAGE_BYTES).map((_, i) => i % 251);
    const out = new Uint8Array(IMAGE_BYTES);
    augmentInto(src, out, { int: () => 0, next: () => 0.9 } as unknown as Rng, 0);
    expect(out).toEqual(src);
    augmentInto(src, out, { int: () => 0, next: () => 0.1 } as unknown as Rng, 0);
    // pixel (0, 0) of the flipped image is pixel (0, 31) of the source
    expect(Array.from(out.subarray(0, 3))).toEqual(Array.from(src.subarray(31 * 3, 32 * 3)));
  });
});
