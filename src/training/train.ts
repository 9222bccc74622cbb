/**
 * The CIFAR-10 training loop: decode once, data-parallel gradient workers, Nesterov SGD
 * with a one-cycle schedule, a checkpoint every epoch, resumable, and the saved artifact
 * (model.json, weights, metadata.json).
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendChoice } from '../runtimes/tfjs/backend.js';
import type { ImageMetadata } from '../kinds/image/metadata.js';
import { saveModelToDir } from '../runtimes/tfjs/model-files.js';
import { cifarContract, type PreprocessingContract } from '../preprocessing/contract.js';
import { normalizeInto } from '../preprocessing/normalize.js';
import { computeComplexity } from './complexity.js';
import { SPLITS_FILE } from './evaluation.js';
import {
  CIFAR10_LABELS,
  IMAGE_BYTES,
  Rng,
  augmentInto,
  channelStats,
  decodeDataset,
  listDataset,
  imageSplitRecord,
  limitEntries,
  splitDataset,
} from './dataset.js';
import { DEFAULT_SPEC, buildNetworks, type NetworkSpec } from './model.js';
import { NesterovSgd, oneCycle } from './sgd.js';
import { WorkerPool } from './worker-pool.js';

export interface TrainOptions {
  dataDir: string;
  outDir: string;
  checkpointDir: string;
  cacheFile: string;
  epochs: number;
  batchSize: number;
  seed: number;
  workers: number;
  backend: BackendChoice;
  peakLr: number;
  warmupEpochs: number;
  momentum: number;
  weightDecay: number;
  labelSmoothing: number;
  valPerLabel: number;
  /** Use only the first N images of each label (smoke tests). */
  limitPerLabel?: number;
  resume: boolean;
  spec: NetworkSpec;
  modelName: string;
  modelVersion: string;
  command: string;
  log: (line: string) => void;
}

export const DEFAULT_TRAIN_OPTIONS: Omit<TrainOptions, 'log' | 'command'> = {
  dataDir: '../shared/datasets/cifar10/train',
  outDir: 'models/cifar10/1',
  checkpointDir: '.cache/train-cifar10',
  cacheFile: '.cache/cifar10-train-u8.bin',
  epochs: 16,
  batchSize: 128,
  seed: 42,
  workers: 2,
  backend: 'auto',
  peakLr: 0.1,
  warmupEpochs: 1,
  momentum: 0.9,
  weightDecay: 5e-4,
  labelSmoothing: 0.1,
  valPerLabel: 500,
  resume: false,
  spec: DEFAULT_SPEC,
  modelName: 'cifar10',
  modelVersion: '1.0.0',
};

interface EpochRecord {
  epoch: number;
  loss: number;
  trainAccuracy: number;
  valAccuracy: number;
  imagesPerSecond: number;
  seconds: number;
}

interface CheckpointState {
  epochsDone: number;
  options: Record<string, unknown>;
  history: EpochRecord[];
  trainSeconds: number;
  sizes: number[];
}

export interface TrainResult {
  metadata: ImageMetadata;
  history: EpochRecord[];
  /** The trained model, as saved (the caller disposes it). */
  model: tf.LayersModel;
}

/** The options that must match for a checkpoint to be resumed. */
function identity(o: TrainOptions): Record<string, unknown> {
  return {
    epochs: o.epochs,
    batchSize: o.batchSize,
    seed: o.seed,
    peakLr: o.peakLr,
    warmupEpochs: o.warmupEpochs,
    momentum: o.momentum,
    weightDecay: o.weightDecay,
    labelSmoothing: o.labelSmoothing,
    valPerLabel: o.valPerLabel,
    limitPerLabel: o.limitPerLabel ?? null,
    spec: o.spec,
  };
}

async function saveCheckpoint(dir: string, state: CheckpointState, arrays: Float32Array[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  const total = arrays.reduce((a, x) => a + x.length, 0);
  const all = new Float32Array(total);
  let off = 0;
  for (const a of arrays) {
    all.set(a, off);
    off += a.length;
  }
  await writeFile(join(dir, 'tensors.bin.tmp'), new Uint8Array(all.buffer));
  await writeFile(join(dir, 'state.json.tmp'), JSON.stringify({ ...state, sizes: arrays.map((a) => a.length) }, null, 1));
  await rename(join(dir, 'tensors.bin.tmp'), join(dir, 'tensors.bin'));
  await rename(join(dir, 'state.json.tmp'), join(dir, 'state.json'));
}

async function loadCheckpoint(dir: string): Promise<{ state: CheckpointState; arrays: Float32Array[] } | undefined> {
  if (!existsSync(join(dir, 'state.json'))) return undefined;
  const state = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as CheckpointState;
  const buf = await readFile(join(dir, 'tensors.bin'));
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const arrays: Float32Array[] = [];
  let off = 0;
  for (const n of state.sizes) {
    arrays.push(all.slice(off, off + n));
    off += n;
  }
  return { state, arrays };
}

/** Normalised float images for `indices`, optionally augmented. */
function makeBatch(images: Uint8Array, indices: readonly number[], contract: PreprocessingContract, rng: Rng | undefined): Float32Array {
  const out = new Float32Array(indices.length * IMAGE_BYTES);
  const scratch = new Uint8Array(IMAGE_BYTES);
  indices.forEach((idx, k) => {
    const src = images.subarray(idx * IMAGE_BYTES, (idx + 1) * IMAGE_BYTES);
    if (rng) augmentInto(src, scratch, rng);
    normalizeInto(rng ? scratch : src, contract, out, k * IMAGE_BYTES);
  });
  return out;
}

function formatDuration(s: number): string {
  const m = Math.floor(s / 60);
  return m >= 60 ? `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m` : `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
}

/** Train, checkpointing each epoch, and write the final artifact to `opts.outDir`. */
export async function train(opts: TrainOptions): Promise<TrainResult> {
  const log = opts.log;
  const mainBackend = await initBackend(opts.backend);
  const entries = limitEntries(await listDataset(opts.dataDir), opts.limitPerLabel);
  const { train: trainIdx, val: valIdx } = splitDataset(entries, opts.valPerLabel);
  log(`dataset: ${entries.length} images, ${trainIdx.length} train / ${valIdx.length} validation`);
  const t0 = performance.now();
  const data = await decodeDataset(entries, opts.cacheFile, (done, total) => log(`decoding ${done}/${total}`));
  log(`decoded in ${((performance.now() - t0) / 1000).toFixed(1)} s (cache ${opts.cacheFile})`);
  const stats = channelStats(data.images, trainIdx);
  const contract = cifarContract(stats.mean, stats.std);
  const valImages = makeBatch(data.images, valIdx, contract, undefined);
  const valLabels = Int32Array.from(valIdx, (i) => data.labels[i]!);

  const { model } = buildNetworks(opts.spec, opts.seed);
  const weightsInfo = model.weights;
  const trainableNames = new Set(model.trainableWeights.map((w) => w.name));
  const trainablePos = weightsInfo.map((w, i) => (trainableNames.has(w.name) ? i : -1)).filter((i) => i >= 0);
  let weights = model.getWeights().map((t) => t.dataSync().slice() as Float32Array);
  const decay = trainablePos.map((i) => /kernel/.test(weightsInfo[i]!.name));
  const sgd = new NesterovSgd(
    trainablePos.map((i) => weights[i]!.length),
    opts.momentum,
    opts.weightDecay,
    decay,
  );

  let history: EpochRecord[] = [];
  let startEpoch = 0;
  let trainSeconds = 0;
  if (opts.resume) {
    const ckpt = await loadCheckpoint(opts.checkpointDir);
    if (!ckpt) {
      log(`--resume: no checkpoint in ${opts.checkpointDir}, starting fresh`);
    } else {
      if (JSON.stringify(ckpt.state.options) !== JSON.stringify(identity(opts))) {
        throw new Error(`checkpoint in ${opts.checkpointDir} was made with other options: ${JSON.stringify(ckpt.state.options)}`);
      }
      weights = ckpt.arrays.slice(0, weights.length);
      ckpt.arrays.slice(weights.length).forEach((v, k) => sgd.velocity[k]!.set(v));
      history = ckpt.state.history;
      startEpoch = ckpt.state.epochsDone;
      trainSeconds = ckpt.state.trainSeconds;
      log(`resumed from epoch ${startEpoch} of ${opts.epochs}`);
    }
  }

  const pool = await WorkerPool.create(opts.workers, opts.spec, opts.backend);
  log(`workers: ${pool.size} × ${pool.backend}; main thread: ${mainBackend}`);
  const stepsPerEpoch = Math.floor(trainIdx.length / opts.batchSize);
  const totalSteps = stepsPerEpoch * opts.epochs;
  const warmupSteps = Math.round(stepsPerEpoch * opts.warmupEpochs);
  const validate = async (): Promise<{ accuracy: number; predictions: Int32Array }> => {
    const predictions = await pool.predict(weights, valImages, valLabels);
    let correct = 0;
    predictions.forEach((p, i) => (correct += p === valLabels[i] ? 1 : 0));
    return { accuracy: correct / Math.max(1, valLabels.length), predictions };
  };

  try {
    for (let epoch = startEpoch; epoch < opts.epochs; epoch++) {
      const rng = new Rng((opts.seed * 7919 + epoch * 104729) >>> 0);
      const order = rng.shuffle([...trainIdx]);
      const batchOf = (s: number): { images: Float32Array; labels: Int32Array } => {
        const idx = order.slice(s * opts.batchSize, (s + 1) * opts.batchSize);
        return { images: makeBatch(data.images, idx, contract, rng), labels: Int32Array.from(idx, (i) => data.labels[i]!) };
      };
      const epochStart = performance.now();
      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      let batch = batchOf(0);
      for (let s = 0; s < stepsPerEpoch; s++) {
        const pending = pool.step(weights, batch.images, batch.labels, opts.labelSmoothing);
        if (s + 1 < stepsPerEpoch) batch = batchOf(s + 1);
        const result = await pending;
        const globalStep = epoch * stepsPerEpoch + s;
        const lr = oneCycle(globalStep, totalSteps, warmupSteps, opts.peakLr);
        const params = trainablePos.map((i) => weights[i]!);
        sgd.step(params, result.grads, lr);
        // Moving BatchNorm statistics come from the replicas; trainable weights from SGD.
        weights = weights.map((w, i) => (trainableNames.has(weightsInfo[i]!.name) ? w : result.weights[i]!));
        lossSum += result.loss * opts.batchSize;
        correct += result.correct;
        seen += opts.batchSize;
        if ((s + 1) % 20 === 0 || s + 1 === stepsPerEpoch) {
          const elapsed = (performance.now() - epochStart) / 1000;
          const ips = seen / elapsed;
          const remaining = (totalSteps - globalStep - 1) * opts.batchSize / ips;
          log(
            `epoch ${epoch + 1}/${opts.epochs} step ${s + 1}/${stepsPerEpoch} loss ${(lossSum / seen).toFixed(4)} ` +
              `acc ${((100 * correct) / seen).toFixed(2)}% lr ${lr.toFixed(4)} ${ips.toFixed(1)} img/s ETA ${formatDuration(remaining)}`,
          );
        }
      }
      const seconds = (performance.now() - epochStart) / 1000;
      const { accuracy } = await validate();
      const record: EpochRecord = {
        epoch: epoch + 1,
        loss: lossSum / Math.max(1, seen),
        trainAccuracy: correct / Math.max(1, seen),
        valAccuracy: accuracy,
        imagesPerSecond: seen / seconds,
        seconds,
      };
      history.push(record);
      trainSeconds += seconds;
      log(`epoch ${epoch + 1} done: loss ${record.loss.toFixed(4)} train ${(100 * record.trainAccuracy).toFixed(2)}% val ${(100 * accuracy).toFixed(2)}% ${record.imagesPerSecond.toFixed(1)} img/s ${seconds.toFixed(0)} s`);
      await saveCheckpoint(
        opts.checkpointDir,
        { epochsDone: epoch + 1, options: identity(opts), history, trainSeconds, sizes: [] },
        [...weights, ...sgd.velocity],
      );
    }

    const final = await validate();
    const perClass: Record<string, number> = {};
    CIFAR10_LABELS.forEach((label, c) => {
      let n = 0;
      let ok = 0;
      valLabels.forEach((y, i) => {
        if (y === c) {
          n++;
          if (final.predictions[i] === c) ok++;
        }
      });
      if (n > 0) perClass[label] = ok / n;
    });
    tf.tidy(() => model.setWeights(weightsInfo.map((w, i) => tf.tensor(weights[i]!, w.shape as number[]))));
    const complexity = computeComplexity(model);
    const last = history[history.length - 1];
    const metadata: ImageMetadata = {
      kind: 'image-classifier',
      name: opts.modelName,
      version: opts.modelVersion,
      description: 'CIFAR-10 image classifier: 7-conv all-convolutional network with BatchNorm, trained with TF.js',
      labels: [...CIFAR10_LABELS],
      inputShape: [opts.spec.inputSize, opts.spec.inputSize, 3],
      output: 'probabilities',
      preprocessing: contract,
      parameters: complexity.parameters,
      multiplyAdds: complexity.multiplyAdds,
      validation: {
        accuracy: final.accuracy,
        images: valLabels.length,
        split: `last ${opts.valPerLabel} images of each label (sorted by file name) of ${opts.dataDir}`,
        splits: SPLITS_FILE,
        perClass,
      },
      training: {
        command: opts.command,
        seed: opts.seed,
        epochs: opts.epochs,
        batchSize: opts.batchSize,
        optimizer: `SGD, Nesterov momentum ${opts.momentum}, weight decay ${opts.weightDecay} on kernels`,
        schedule: `one-cycle: ${opts.warmupEpochs} epoch(s) linear warm-up to ${opts.peakLr}, then linear decay to 0`,
        labelSmoothing: opts.labelSmoothing,
        augmentation: 'random 32×32 crop of the 4-pixel reflect-padded image, horizontal flip p=0.5',
        trainImages: trainIdx.length,
        backend: pool.backend,
        workers: pool.size,
        wallSeconds: Math.round(trainSeconds),
        imagesPerSecond: last ? Math.round(last.imagesPerSecond * 10) / 10 : null,
        finalTrainLoss: last?.loss ?? null,
        history,
      },
      createdAt: new Date().toISOString(),
    };
    await saveModelToDir(model, opts.outDir);
    await writeFile(join(opts.outDir, SPLITS_FILE), `${JSON.stringify(imageSplitRecord(entries, opts.dataDir, { train: trainIdx, val: valIdx }))}\n`);
    await writeFile(join(opts.outDir, 'metadata.json'), `${JSON.stringify(metadata, null, 2)}\n`);
    log(`saved ${opts.outDir}: validation accuracy ${(100 * final.accuracy).toFixed(2)}%, ${complexity.parameters} parameters, ${complexity.multiplyAdds} multiply-adds`);
    return { metadata, history, model };
  } finally {
    await pool.close();
  }
}
