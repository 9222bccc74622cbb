/**
 * Training for tabular models, deterministic with a seed: a seeded split, the standardization
 * fitted on the training rows (the function serving uses), a small dense network trained with
 * seeded shuffling, evaluation and a version folder written with metadata.json last.
 */
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { saveModelToDir } from '../runtimes/tfjs/model-files.js';
import type { Feature, TabularMetadata } from '../kinds/tabular/metadata.js';
import { fitStandardization, standardize, type Standardization } from '../kinds/tabular/standardize.js';
import { seededRandom } from '../random.js';
import { SPLITS_FILE, type SplitRecord } from './evaluation.js';

export { seededRandom } from '../random.js';

export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export interface Row {
  x: number[];
  y: number;
}

/** Hold out `fraction` of the rows of each target value (stratified), chosen by `seed`. */
export function stratifiedSplit(rows: readonly Row[], fraction: number, seed: number): { train: Row[]; test: Row[] } {
  const random = seededRandom(seed);
  const byTarget = new Map<number, Row[]>();
  for (const r of rows) byTarget.set(r.y, [...(byTarget.get(r.y) ?? []), r]);
  const train: Row[] = [];
  const test: Row[] = [];
  for (const key of [...byTarget.keys()].sort((a, b) => a - b)) {
    const group = shuffled(byTarget.get(key)!, random);
    const n = Math.round(group.length * fraction);
    test.push(...group.slice(0, n));
    train.push(...group.slice(n));
  }
  return { train, test };
}

export interface DenseOptions {
  /** Hidden layer widths; [] is a linear model (logistic or linear regression). */
  hidden: number[];
  /** Classes for a softmax classifier; 0 for a single-value regressor. */
  classes: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** L2 penalty on kernels. */
  l2: number;
  seed: number;
  onEpoch?: (epoch: number, loss: number, model: tf.Sequential) => void;
}

/** Train a dense network on standardized rows; targets are class indices or values. */
export async function trainDense(xs: number[][], ys: number[], opts: DenseOptions): Promise<tf.Sequential> {
  const model = tf.sequential();
  const features = xs[0]!.length;
  let seed = opts.seed;
  const init = () => tf.initializers.glorotUniform({ seed: seed++ });
  const regularizer = opts.l2 > 0 ? tf.regularizers.l2({ l2: opts.l2 }) : undefined;
  opts.hidden.forEach((units, i) => {
    model.add(tf.layers.dense({ ...(i === 0 ? { inputShape: [features] } : {}), units, activation: 'relu', kernelInitializer: init(), kernelRegularizer: regularizer }));
  });
  const out = opts.classes > 0 ? { units: opts.classes, activation: 'softmax' as const } : { units: 1, activation: 'linear' as const };
  model.add(tf.layers.dense({ ...(opts.hidden.length === 0 ? { inputShape: [features] } : {}), ...out, kernelInitializer: init(), kernelRegularizer: regularizer }));
  model.compile({ optimizer: tf.train.adam(opts.learningRate), loss: opts.classes > 0 ? 'sparseCategoricalCrossentropy' : 'meanSquaredError' });
  const random = seededRandom(opts.seed ^ 0x9e3779b9);
  const order = xs.map((_, i) => i);
  for (let epoch = 0; epoch < opts.epochs; epoch++) {
    const perm = shuffled(order, random);
    let loss = 0;
    let batches = 0;
    for (let start = 0; start < perm.length; start += opts.batchSize) {
      const idx = perm.slice(start, start + opts.batchSize);
      const x = tf.tensor2d(idx.map((i) => xs[i]!));
      const y = opts.classes > 0 ? tf.tensor1d(idx.map((i) => ys[i]!), 'float32') : tf.tensor2d(idx.map((i) => [ys[i]!]));
      const l = (await model.trainOnBatch(x, y)) as number;
      tf.dispose([x, y]);
      loss += l;
      batches++;
    }
    opts.onEpoch?.(epoch, loss / batches, model);
  }
  return model;
}

/** The model's outputs for standardized rows. */
export function predictRows(model: tf.LayersModel, xs: number[][]): number[][] {
  return tf.tidy(() => (model.predict(tf.tensor2d(xs)) as tf.Tensor).arraySync() as number[][]);
}

export function argmax(values: readonly number[]): number {
  return values.reduce((best, v, i) => (v > values[best]! ? i : best), 0);
}

/** confusion[actual][predicted] counts. */
export function confusion(actual: readonly number[], predicted: readonly number[], classes: number): number[][] {
  const m = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  actual.forEach((a, i) => m[a]![predicted[i]!]!++);
  return m;
}

/** Feature ranges seen in training. */
export function featureRanges(names: readonly { name: string; description?: string; unit?: string }[], rows: readonly number[][]): Feature[] {
  return names.map((f, j) => ({ ...f, min: Math.min(...rows.map((r) => r[j]!)), max: Math.max(...rows.map((r) => r[j]!)) }));
}

export function standardizeRows(rows: readonly number[][], s: Standardization): number[][] {
  return rows.map((r) => Array.from(standardize(r, s)));
}

export { fitStandardization };

/** The next free version number under `repository/name`. */
export async function nextVersion(repository: string, name: string): Promise<string> {
  const entries = await readdir(join(repository, name)).catch(() => [] as string[]);
  const versions = entries.filter((e) => /^[1-9]\d*$/.test(e)).map(Number);
  return String(versions.length === 0 ? 1 : Math.max(...versions) + 1);
}

export { SPLITS_FILE } from './evaluation.js';

/** What a trainer writes: the model (TF.js layers or ONNX bytes), its metadata, and the split record. */
export interface VersionFiles {
  model: { format: 'tfjs'; layers: tf.LayersModel } | { format: 'onnx'; bytes: Uint8Array };
  metadata: TabularMetadata;
  splits?: SplitRecord;
}

/** Write the model files and splits.json, then metadata.json last (the completeness marker), into `dir`. */
export async function writeVersionFiles(dir: string, files: VersionFiles): Promise<void> {
  await mkdir(dir, { recursive: true });
  if (files.model.format === 'tfjs') await saveModelToDir(files.model.layers, dir);
  else await writeFile(join(dir, files.metadata.onnx?.file ?? 'model.onnx'), files.model.bytes);
  if (files.splits) await writeFile(join(dir, SPLITS_FILE), `${JSON.stringify(files.splits)}\n`);
  await writeFile(join(dir, 'metadata.json'), `${JSON.stringify(files.metadata, null, 2)}\n`);
}

/** Write model files, then metadata.json last, into a hidden staging folder renamed into place. */
export async function writeVersion(repository: string, name: string, version: string, files: VersionFiles): Promise<string> {
  const target = join(repository, name, version);
  const staging = join(repository, name, `.staging-${version}`);
  await rm(staging, { recursive: true, force: true });
  await writeVersionFiles(staging, files);
  await rm(target, { recursive: true, force: true });
  await rename(staging, target);
  return target;
}
