/**
 * Train the CIFAR-10 model and write models/cifar10/1 (model.json, weights, metadata.json).
 *
 *   npm run train -- [--epochs 16] [--seed 42] [--workers 2] [--resume] [--data DIR] [--out DIR]
 */
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
