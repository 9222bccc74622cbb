/**
 * Train the CIFAR-10 model and write models/cifar10/1 (model.json, weights, metadata.json).
 *
 *   npm run train -- [--epochs 16] [--seed 42] [--workers 2] [--resume] [--data DIR] [--out DIR]
 *   npm run train -- --splits-only [--out models/cifar10/1] [--data DIR]
 *
 * --splits-only writes the version's splits.json (which images trained it, which calibrate
 * its confidence, which judge it) from the split rule it was trained by, without training.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SPLITS_FILE } from '../src/training/evaluation.js';
import { imageSplitRecord, limitEntries, listDataset, splitDataset } from '../src/training/dataset.js';
import { parseArgs } from 'node:util';
import { BACKEND_CHOICES, type BackendChoice } from '../src/runtimes/tfjs/backend.js';
import { DEFAULT_TRAIN_OPTIONS, train } from '../src/training/train.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: DEFAULT_TRAIN_OPTIONS.dataDir },
    out: { type: 'string', default: DEFAULT_TRAIN_OPTIONS.outDir },
    checkpoint: { type: 'string', default: DEFAULT_TRAIN_OPTIONS.checkpointDir },
    cache: { type: 'string', default: DEFAULT_TRAIN_OPTIONS.cacheFile },
    epochs: { type: 'string', default: String(DEFAULT_TRAIN_OPTIONS.epochs) },
    'batch-size': { type: 'string', default: String(DEFAULT_TRAIN_OPTIONS.batchSize) },
    seed: { type: 'string', default: String(DEFAULT_TRAIN_OPTIONS.seed) },
    workers: { type: 'string', default: String(DEFAULT_TRAIN_OPTIONS.workers) },
    backend: { type: 'string', default: DEFAULT_TRAIN_OPTIONS.backend },
    lr: { type: 'string', default: String(DEFAULT_TRAIN_OPTIONS.peakLr) },
    'val-per-label': { type: 'string', default: String(DEFAULT_TRAIN_OPTIONS.valPerLabel) },
    'limit-per-label': { type: 'string' },
    version: { type: 'string', default: DEFAULT_TRAIN_OPTIONS.modelVersion },
    resume: { type: 'boolean', default: false },
    'splits-only': { type: 'boolean', default: false },
  },
});

function int(name: string, v: string | undefined): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got ${v}`);
  return n;
}

if (!BACKEND_CHOICES.includes(values.backend as BackendChoice)) {
  throw new Error(`--backend must be one of ${BACKEND_CHOICES.join(', ')}`);
}

if (values['splits-only']) {
  const entries = limitEntries(await listDataset(values.data), values['limit-per-label'] ? int('limit-per-label', values['limit-per-label']) : undefined);
  const record = imageSplitRecord(entries, values.data, splitDataset(entries, int('val-per-label', values['val-per-label'])));
  await writeFile(join(values.out, SPLITS_FILE), `${JSON.stringify(record)}\n`);
  console.log(`${join(values.out, SPLITS_FILE)}: ${record.train.length} training, ${record.calibration!.length} calibration, ${record.test.length} test images`);
  process.exit(0);
}

const started = new Date();
await train({
  ...DEFAULT_TRAIN_OPTIONS,
  dataDir: values.data,
  outDir: values.out,
  checkpointDir: values.checkpoint,
  cacheFile: values.cache,
  epochs: int('epochs', values.epochs),
  batchSize: int('batch-size', values['batch-size']),
  seed: int('seed', values.seed),
  workers: Math.max(1, int('workers', values.workers)),
  backend: values.backend as BackendChoice,
  peakLr: Number(values.lr),
  valPerLabel: int('val-per-label', values['val-per-label']),
  ...(values['limit-per-label'] ? { limitPerLabel: int('limit-per-label', values['limit-per-label']) } : {}),
  modelVersion: values.version,
  resume: values.resume,
  command: `npm run train -- ${process.argv.slice(2).join(' ')}`.trim(),
  log: (line) => console.log(`[${new Date().toISOString()}] ${line}`),
});
console.log(`finished in ${((Date.now() - started.getTime()) / 60000).toFixed(1)} min`);
