/**
 * Honest evaluation for every trainer: stratified k-fold cross-validation on the training part
 * (the only data any choice is made on), a record of which rows were used for what, and a
 * bootstrap interval for the figure reported once on the held-out split.
 */
import { applyTemperature, expectedCalibrationError, fitTemperature, negativeLogLikelihood } from '../inference/calibration.js';
import { seededRandom } from '../random.js';

function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * Stratified folds: the fold (0..k-1) of each item, every label dealt round-robin over the
 * folds after a seeded shuffle, so each fold holds about 1/k of every label.
 */
export function stratifiedFolds(labels: readonly number[], k: number, seed: number): number[] {
  if (!Number.isInteger(k) || k < 2) throw new Error(`cross-validation needs at least 2 folds, not ${k}`);
  const random = seededRandom(seed);
  const fold = new Array<number>(labels.length).fill(0);
  for (const label of [...new Set(labels)].sort((a, b) => a - b)) {
    const members = shuffle(
      labels.flatMap((y, i) => (y === label ? [i] : [])),
      random,
    );
    members.forEach((i, rank) => (fold[i] = rank % k));
  }
  return fold;
}

/** The (train, held) index sets of fold `f`. */
export function foldIndices(folds: readonly number[], f: number): { train: number[]; held: number[] } {
  const train: number[] = [];
  const held: number[] = [];
  folds.forEach((g, i) => (g === f ? held : train).push(i));
  return { train, held };
}

/**
 * Stratified split into named parts by share (the rest goes to the first part), chosen by
 * `seed`: e.g. {train: rest, calibration: 0.15, test: 0.2}. Returns the indices of each part.
 */
export function stratifiedParts<K extends string>(labels: readonly number[], shares: Record<K, number>, seed: number): Record<K, number[]> {
  const names = Object.keys(shares) as K[];
  const random = seededRandom(seed);
  const parts = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<K, number[]>;
  for (const label of [...new Set(labels)].sort((a, b) => a - b)) {
    const members = shuffle(
      labels.flatMap((y, i) => (y === label ? [i] : [])),
      random,
    );
    let at = 0;
    // Every named part after the first takes its share; the first keeps the rest.
    for (const name of names.slice(1)) {
      const n = Math.round(members.length * shares[name]);
      parts[name].push(...members.slice(at, at + n));
      at += n;
    }
    parts[names[0]!].push(...members.slice(at));
  }
  for (const name of names) parts[name].sort((a, b) => a - b);
  return parts;
}

/** The record of which rows a trainer used for what, beside the model. */
export const SPLITS_FILE = 'splits.json';

/** Which rows (by id) a trainer used for what. Written beside the model as splits.json. */
export interface SplitRecord {
  /** What an id names, e.g. "line of winequality-red.csv (1 = first data line)". */
  ids: string;
  /** Where the rows are read from, for `npm run evaluate`. */
  source?: { format: 'image-folder' | 'csv' | 'iris' | 'mail-folder'; path?: string };
  /** Rows the model and its settings were chosen on (cross-validation) and then trained on. */
  train: string[];
  /** Rows the confidence calibration (temperature) was fitted on, when there is one. */
  calibration?: string[];
  /** Rows the reported figures come from; never used for any choice. */
  test: string[];
}

/** The parts of a record that share a row, as "train ∩ test: 3 rows (e.g. 17)"; empty when disjoint. */
export function overlaps(record: SplitRecord): string[] {
  const parts = Object.entries({ train: record.train, calibration: record.calibration ?? [], test: record.test });
  const found: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const [a, rows] = parts[i]!;
    if (new Set(rows).size !== rows.length) found.push(`${a} lists a row twice`);
    const seen = new Set(rows);
    for (const [b, other] of parts.slice(i + 1)) {
      const shared = other.filter((r) => seen.has(r));
      if (shared.length > 0) found.push(`${a} ∩ ${b}: ${shared.length} rows (e.g. ${shared[0]!})`);
    }
  }
  return found;
}

export interface Interval {
  /** The figure on the whole held-out split. */
  value: number;
  /** Percentile bootstrap interval. */
  low: number;
  high: number;
  level: number;
  resamples: number;
}

/**
 * Percentile bootstrap interval of `statistic` over `n` held-out items: the statistic of
 * `resamples` samples of n indices drawn with replacement (seeded).
 */
export function bootstrapInterval(n: number, statistic: (indices: readonly number[]) => number, opts: { resamples?: number; level?: number; seed?: number } = {}): Interval {
  const resamples = opts.resamples ?? 2000;
  const level = opts.level ?? 0.95;
  const random = seededRandom(opts.seed ?? 1);
  const all = [...Array(n).keys()];
  const values: number[] = [];
  const sample = new Array<number>(n);
  for (let b = 0; b < resamples; b++) {
    for (let i = 0; i < n; i++) sample[i] = Math.floor(random() * n);
    values.push(statistic(sample));
  }
  values.sort((a, b) => a - b);
  const at = (q: number): number => values[Math.min(values.length - 1, Math.max(0, Math.round(q * (values.length - 1))))]!;
  return { value: statistic(all), low: at((1 - level) / 2), high: at(1 - (1 - level) / 2), level, resamples };
}

/** Accuracy of `predicted` against `actual` with its bootstrap interval. */
export function accuracyInterval(actual: readonly number[], predicted: readonly number[], seed = 1): Interval {
  return bootstrapInterval(actual.length, (idx) => idx.filter((i) => actual[i] === predicted[i]).length / idx.length, { seed });
}

export const mean = (v: readonly number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
/** Population standard deviation: the spread of the fold figures. */
export const spread = (v: readonly number[]): number => Math.sqrt(mean(v.map((x) => (x - mean(v)) ** 2)));

/** Round to `d` decimals for metadata. */
export const rounded = (v: number, d = 4): number => Math.round(v * 10 ** d) / 10 ** d;

/** An interval rounded for metadata. */
export const roundedInterval = (i: Interval, d = 4): Interval => ({ ...i, value: rounded(i.value, d), low: rounded(i.low, d), high: rounded(i.high, d) });

/** Temperature scaling fitted on a calibration split and judged on the test split. */
export interface CalibrationReport {
  temperature: number;
  eceBefore: number;
  eceAfter: number;
  nllBefore: number;
  nllAfter: number;
  /** Negative log-likelihood on the calibration split, before and after (the fit lowers it). */
  calibrationNllBefore: number;
  calibrationNllAfter: number;
  fittedOn: string;
  measuredOn: string;
}

/** Fit the temperature on (calRows, calLabels); ECE and NLL on (testRows, testLabels) before and after. */
export function calibrate(cal: { rows: readonly Float32Array[]; labels: readonly number[]; what: string }, test: { rows: readonly Float32Array[]; labels: readonly number[]; what: string }): CalibrationReport {
  const temperature = fitTemperature(cal.rows, cal.labels);
  const scaled = test.rows.map((r) => applyTemperature(Float32Array.from(r), r.length, temperature));
  return {
    temperature: rounded(temperature, 4),
    eceBefore: rounded(expectedCalibrationError(test.rows, test.labels), 4),
    eceAfter: rounded(expectedCalibrationError(scaled, test.labels), 4),
    nllBefore: rounded(negativeLogLikelihood(test.rows, test.labels), 4),
    nllAfter: rounded(negativeLogLikelihood(test.rows, test.labels, temperature), 4),
    calibrationNllBefore: rounded(negativeLogLikelihood(cal.rows, cal.labels), 4),
    calibrationNllAfter: rounded(negativeLogLikelihood(cal.rows, cal.labels, temperature), 4),
    fittedOn: cal.what,
    measuredOn: test.what,
  };
}

/** A regressor's held-out errors (prediction − actual): mean absolute error and the central interval holding `coverage` of them. */
export function errorDistribution(predicted: readonly number[], actual: readonly number[], coverage = 0.9): { meanAbsoluteError: number; interval: { low: number; high: number; coverage: number } } {
  const errors = predicted.map((p, i) => p - actual[i]!).sort((a, b) => a - b);
  const q = (p: number): number => {
    const at = p * (errors.length - 1);
    const lo = Math.floor(at);
    return errors[lo]! + (errors[Math.min(errors.length - 1, lo + 1)]! - errors[lo]!) * (at - lo);
  };
  const tail = (1 - coverage) / 2;
  return { meanAbsoluteError: rounded(mean(errors.map(Math.abs))), interval: { low: rounded(q(tail)), high: rounded(q(1 - tail)), coverage } };
}

/** A fold's figures, e.g. {accuracy, meanAbsoluteError}. */
export type FoldScores = Record<string, number>;

/**
 * k-fold cross-validation of every candidate, with progress, checkpointed after every fit in
 * `checkpoint` (a JSON file) so an interrupted run resumes. Returns each candidate's figures per fold.
 */
export async function crossValidate<C>(
  candidates: readonly { key: string; config: C }[],
  folds: number,
  fit: (config: C, fold: number) => Promise<FoldScores> | FoldScores,
  opts: { checkpoint?: string; log?: (line: string) => void } = {},
): Promise<Map<string, FoldScores[]>> {
  const { mkdir, readFile, rename, writeFile } = await import('node:fs/promises');
  const { dirname } = await import('node:path');
  const done: Record<string, FoldScores> = opts.checkpoint ? (JSON.parse(await readFile(opts.checkpoint, 'utf8').catch(() => '{}')) as Record<string, FoldScores>) : {};
  const total = candidates.length * folds;
  let fitted = Object.keys(done).length;
  if (fitted > 0) opts.log?.(`resuming: ${fitted}/${total} cross-validation fits already in ${opts.checkpoint!}`);
  const out = new Map<string, FoldScores[]>();
  for (const { key, config } of candidates) {
    const scores: FoldScores[] = [];
    for (let f = 0; f < folds; f++) {
      const id = `${key}|${f}`;
      if (!done[id]) {
        const started = performance.now();
        done[id] = await fit(config, f);
        fitted++;
        if (opts.checkpoint) {
          await mkdir(dirname(opts.checkpoint), { recursive: true });
          await writeFile(`${opts.checkpoint}.tmp`, JSON.stringify(done));
          await rename(`${opts.checkpoint}.tmp`, opts.checkpoint);
        }
        const figures = Object.entries(done[id])
          .map(([k, v]) => `${k} ${v.toFixed(4)}`)
          .join(', ');
        opts.log?.(`[cv ${fitted}/${total}] ${key} fold ${f + 1}/${folds}: ${figures} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
      }
      scores.push(done[id]);
    }
    out.set(key, scores);
  }
  return out;
}

/** Mean and spread over folds of every figure. */
export function summarizeFolds(scores: readonly FoldScores[]): Record<string, { mean: number; spread: number }> {
  const names = Object.keys(scores[0] ?? {});
  return Object.fromEntries(names.map((n) => [n, { mean: rounded(mean(scores.map((s) => s[n]!))), spread: rounded(spread(scores.map((s) => s[n]!))) }]));
}
