/**
 * Evaluate a model over a folder laid out `label/*.jpg`, through the server's own
 * preprocessing: top-1 and per-class accuracy, a JSON report and a confusion-matrix PNG.
 *
 *   npm run evaluate -- <folder> [--model models/cifar10/1] [--runtime tfjs|onnx] [--out reports/eval] [--split val|all] [--resume]
 *
 * --runtime onnx runs the version's model.onnx in ONNX Runtime; tfjs (the default) its model.json.
 */
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { initBackend, BACKEND_CHOICES, type BackendChoice } from '../src/runtimes/tfjs/backend.js';
import { readImageMetadata } from '../src/kinds/image/metadata.js';
import { prepareImage } from '../src/preprocessing/image.js';
import { loadModel } from '../src/runtimes/runtime.js';
import { runtimeSpec } from '../src/runtimes/select.js';
import { availableParallelism } from 'node:os';
import { openKind } from './lib/kind.js';
import { confusionMatrixSvg } from '../src/training/confusion.js';
import { listDataset, splitDataset } from '../src/training/dataset.js';
import sharp from 'sharp';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    model: { type: 'string', default: 'models/cifar10/1' },
    out: { type: 'string', default: 'reports/eval' },
    split: { type: 'string', default: 'all' },
    'val-per-label': { type: 'string', default: '500' },
    backend: { type: 'string', default: 'auto' },
    runtime: { type: 'string', default: 'tfjs' },
    'batch-size': { type: 'string', default: '64' },
    resume: { type: 'boolean', default: false },
  },
});
const folder = positionals[0];
if (!folder) {
  console.error('usage: npm run evaluate -- <folder laid out label/*.jpg> [--split val|all] [--out DIR] [--resume]');
  process.exit(2);
}
if (!BACKEND_CHOICES.includes(values.backend as BackendChoice)) throw new Error(`--backend must be one of ${BACKEND_CHOICES.join(', ')}`);

if (values.runtime !== 'tfjs' && values.runtime !== 'onnx') throw new Error('--runtime must be tfjs or onnx');
const metadata = await readImageMetadata(values.model);
const kind = await openKind(values.model);
const signature = kind.signature;
const backend = values.runtime === 'onnx' ? 'onnxruntime cpu' : `tfjs ${await initBackend(values.backend as BackendChoice)}`;
// The spec the server would build for this folder with INFERENCE_RUNTIME=--runtime.
const spec = await runtimeSpec(values.model, kind.runtime, signature, Number.MAX_SAFE_INTEGER, { choice: values.runtime, onnxThreads: availableParallelism() });
const model = await loadModel(spec, 1);
// The repository layout names the model: <repository>/<name>/<version>/.
const modelName = basename(dirname(resolve(values.model)));
const modelVersion = basename(resolve(values.model));
const labels = metadata.labels;
let entries = await listDataset(folder, labels);
if (values.split === 'val') {
  const { val } = splitDataset(entries, Number(values['val-per-label']));
  entries = val.map((i) => entries[i]!);
} else if (values.split !== 'all') {
  throw new Error('--split must be val or all');
}

await mkdir(values.out, { recursive: true });
const partial = join(values.out, 'predictions.jsonl');
interface Row {
  file: string;
  label: number;
  predicted: number;
  confidence: number;
}
const done = new Map<string, Row>();
if (values.resume && existsSync(partial)) {
  for (const line of (await readFile(partial, 'utf8')).split('\n')) if (line) done.set((JSON.parse(line) as Row).file, JSON.parse(line) as Row);
} else {
  await writeFile(partial, '');
}
const todo = entries.filter((e) => !done.has(e.file));
console.log(`model ${modelName} ${modelVersion} on ${backend}; ${entries.length} images in ${folder} (${done.size} already done)`);

const started = performance.now();
const bar = new cliProgress.SingleBar({ format: 'evaluating [{bar}] {value}/{total} {percentage}% | {rate} img/s | ETA {eta_formatted} | acc {acc}%' }, cliProgress.Presets.shades_classic);
bar.start(entries.length, done.size, { rate: '0', acc: '-' });
const batchSize = Number(values['batch-size']);
let correct = [...done.values()].filter((r) => r.predicted === r.label).length;
for (let i = 0; i < todo.length; i += batchSize) {
  const chunk = todo.slice(i, i + batchSize);
  const inputs = await Promise.all(chunk.map(async (e) => (await prepareImage(await readFile(e.file), metadata.preprocessing, { maxInputPixels: 25_000_000 })).input));
  const size = inputs[0]!.length;
  const batch = new Float32Array(inputs.length * size);
  inputs.forEach((x, j) => batch.set(x, j * size));
  const flat = await model.run(batch, inputs.length);
  const rows = chunk.map((e, k): Row => {
    const p = Array.from(flat.subarray(k * labels.length, (k + 1) * labels.length));
    const predicted = p.indexOf(Math.max(...p));
    return { file: e.file, label: e.label, predicted, confidence: p[predicted]! };
  });
  for (const r of rows) {
    done.set(r.file, r);
    if (r.predicted === r.label) correct++;
  }
  await appendFile(partial, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const elapsed = (performance.now() - started) / 1000;
  bar.update(done.size, { rate: ((i + chunk.length) / elapsed).toFixed(0), acc: ((100 * correct) / done.size).toFixed(2) });
}
bar.stop();

const rows = entries.map((e) => done.get(e.file)!);
const k = labels.length;
const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
for (const r of rows) confusion[r.label]![r.predicted]!++;
const perClass = Object.fromEntries(labels.map((l, c) => [l, confusion[c]![c]! / Math.max(1, confusion[c]!.reduce((a, b) => a + b, 0))]));
const top1 = rows.filter((r) => r.predicted === r.label).length / rows.length;
const report = {
  model: { name: modelName, version: modelVersion, dir: values.model },
  backend,
  folder,
  split: values.split,
  images: rows.length,
  top1,
  perClass,
  labels,
  confusion,
  seconds: Math.round((performance.now() - started) / 100) / 10,
  createdAt: new Date().toISOString(),
};
await writeFile(join(values.out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
await sharp(Buffer.from(confusionMatrixSvg(labels, confusion, `${modelName} ${modelVersion}: top-1 ${(100 * top1).toFixed(2)}% on ${rows.length} images`)))
  .png()
  .toFile(join(values.out, 'confusion-matrix.png'));
console.log(`top-1 ${(100 * top1).toFixed(2)}% on ${rows.length} images`);
for (const l of labels) console.log(`  ${l.padEnd(12)} ${(100 * perClass[l]!).toFixed(2)}%`);
console.log(`wrote ${join(values.out, 'report.json')} and ${join(values.out, 'confusion-matrix.png')}`);
model.dispose();
