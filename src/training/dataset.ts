/**
 * CIFAR-10 folder dataset: listing, a fixed train/validation split, decoding once (through
 * the serving preprocessing) into a cached uint8 file, and augmentation.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { cifarContract } from '../preprocessing/contract.js';
import { decodeToContract } from '../preprocessing/decode.js';
import type { SplitRecord } from './evaluation.js';

export const CIFAR10_LABELS = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'] as const;

const IMAGE_SIZE = 32;
export const IMAGE_BYTES = IMAGE_SIZE * IMAGE_SIZE * 3;

export interface DatasetEntry {
  file: string;
  label: number;
}

/** List `root/<label>/*.{jpg,jpeg,png}` in label order, files sorted by name. */
export async function listDataset(root: string, labels: readonly string[] = CIFAR10_LABELS): Promise<DatasetEntry[]> {
  const entries: DatasetEntry[] = [];
  for (const [label, name] of labels.entries()) {
    const dir = join(root, name);
    if (!existsSync(dir)) continue;
    const files = (await readdir(dir)).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort();
    for (const f of files) entries.push({ file: join(dir, f), label });
  }
  if (entries.length === 0) throw new Error(`no images found under ${root}`);
  return entries;
}

/** The first `perLabel` entries of every label (all of them without a limit). */
export function limitEntries(entries: DatasetEntry[], perLabel: number | undefined): DatasetEntry[] {
  if (!perLabel) return entries;
  const seen = new Map<number, number>();
  return entries.filter((e) => {
    const k = seen.get(e.label) ?? 0;
    seen.set(e.label, k + 1);
    return k < perLabel;
  });
}

/** Deterministic split: the last `valPerLabel` files of every label are validation. */
export function splitDataset(entries: readonly DatasetEntry[], valPerLabel: number): { train: number[]; val: number[] } {
  const byLabel = new Map<number, number[]>();
  entries.forEach((e, i) => {
    const list = byLabel.get(e.label) ?? [];
    list.push(i);
    byLabel.set(e.label, list);
  });
  const train: number[] = [];
  const val: number[] = [];
  for (const list of byLabel.values()) {
    const cut = Math.max(0, list.length - valPerLabel);
    train.push(...list.slice(0, cut));
    val.push(...list.slice(cut));
  }
  return { train, val };
}

/**
 * The record of which images trained a model and which judge it: the validation images of
 * every label split in two, the first half (by file name) to fit the confidence temperature
 * on, the second half to report on. Ids are `label/file` under `root`.
 */
export function imageSplitRecord(entries: readonly DatasetEntry[], root: string, split: { train: number[]; val: number[] }): SplitRecord {
  const id = (i: number): string => relative(root, entries[i]!.file).split(sep).join('/');
  const calibration: string[] = [];
  const test: string[] = [];
  const byLabel = new Map<number, number[]>();
  for (const i of split.val) byLabel.set(entries[i]!.label, [...(byLabel.get(entries[i]!.label) ?? []), i]);
  for (const list of byLabel.values()) {
    const half = Math.floor(list.length / 2);
    calibration.push(...list.slice(0, half).map(id));
    test.push(...list.slice(half).map(id));
  }
  return { ids: `image file under ${root}`, source: { format: 'image-folder', path: root }, train: split.train.map(id), calibration, test };
}

export interface DecodedDataset {
  /** N × 32 × 32 × 3 uint8 RGB, in entry order. */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}

function fingerprint(entries: readonly DatasetEntry[]): string {
  const h = createHash('sha256');
  for (const e of entries) h.update(`${e.label}:${e.file}\n`);
  return h.digest('hex').slice(0, 16);
}

/** Decode every entry once through the serving decoder; cached as raw uint8 at `cacheFile`. */
export async function decodeDataset(
  entries: readonly DatasetEntry[],
  cacheFile: string,
  onProgress: (done: number, total: number) => void = () => {},
  concurrency = 8,
): Promise<DecodedDataset> {
  const key = fingerprint(entries);
  const n = entries.length;
  if (existsSync(cacheFile) && existsSync(`${cacheFile}.json`)) {
    const meta = JSON.parse(await readFile(`${cacheFile}.json`, 'utf8')) as { key: string; count: number };
    if (meta.key === key && meta.count === n) {
      const buf = await readFile(cacheFile);
      const all = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
      return { images: all.subarray(0, n * IMAGE_BYTES), labels: all.subarray(n * IMAGE_BYTES), count: n };
    }
  }
  // Mean and std do not enter decoding; the contract's geometry and colour handling do.
  const contract = cifarContract([0, 0, 0], [1, 1, 1]);
  const all = new Uint8Array(n * (IMAGE_BYTES + 1));
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      const entry = entries[i]!;
      const { rgb } = await decodeToContract(await readFile(entry.file), contract);
      all.set(rgb, i * IMAGE_BYTES);
      all[n * IMAGE_BYTES + i] = entry.label;
      done++;
      if (done % 500 === 0 || done === n) onProgress(done, n);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await mkdir(dirname(cacheFile), { recursive: true });
  await writeFile(cacheFile, all);
  await writeFile(`${cacheFile}.json`, JSON.stringify({ key, count: n }));
  return { images: all.subarray(0, n * IMAGE_BYTES), labels: all.subarray(n * IMAGE_BYTES), count: n };
}

/** Per-channel mean and standard deviation of pixel/255 over the given images. */
export function channelStats(images: Uint8Array, indices: readonly number[]): { mean: [number, number, number]; std: [number, number, number] } {
  const sum = [0, 0, 0];
  const sq = [0, 0, 0];
  for (const i of indices) {
    const base = i * IMAGE_BYTES;
    for (let p = 0; p < IMAGE_BYTES; p += 3) {
      for (let c = 0; c < 3; c++) {
        const v = images[base + p + c]! / 255;
        sum[c]! += v;
        sq[c]! += v * v;
      }
    }
  }
  const count = indices.length * IMAGE_SIZE * IMAGE_SIZE;
  const mean = sum.map((s) => s / count) as [number, number, number];
  const std = sq.map((s, c) => Math.sqrt(s / count - mean[c]! ** 2)) as [number, number, number];
  return { mean, std };
}

/** Small seedable PRNG (mulberry32); its state is one uint32, so it can be checkpointed. */
export class Rng {
  constructor(public state: number) {}
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
}

/**
 * Random crop from the image reflect-padded by `pad` pixels, then a horizontal flip with
 * probability ½. Writes a 32×32×3 uint8 image into `out`.
 */
export function augmentInto(src: Uint8Array, out: Uint8Array, rng: Rng, pad = 4): void {
  const dy = rng.int(2 * pad + 1) - pad;
  const dx = rng.int(2 * pad + 1) - pad;
  const flip = rng.next() < 0.5;
  const s = IMAGE_SIZE;
  const reflect = (v: number): number => (v < 0 ? -v : v >= s ? 2 * s - 2 - v : v);
  for (let y = 0; y < s; y++) {
    const sy = reflect(y + dy);
    for (let x = 0; x < s; x++) {
      const sx = reflect((flip ? s - 1 - x : x) + dx);
      const o = (y * s + x) * 3;
      const i = (sy * s + sx) * 3;
      out[o] = src[i]!;
      out[o + 1] = src[i + 1]!;
      out[o + 2] = src[i + 2]!;
    }
  }
}
