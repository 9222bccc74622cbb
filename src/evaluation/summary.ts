/**
 * A version's evaluation (evaluation.json beside its model, written by `npm run evaluate`):
 * the figures of its model card, on data no choice was made on. The server answers it at
 * /v1/models/{name}/versions/{v}/evaluation and draws its pictures from it.
 */
import { z } from 'zod';
import { applyTemperature, ECE_BINS, expectedCalibrationError, negativeLogLikelihood } from '../inference/calibration.js';
import { accuracyInterval, bootstrapInterval, errorDistribution, mean, rounded, roundedInterval } from '../training/evaluation.js';

export const EVALUATION_FILE = 'evaluation.json';

const intervalSchema = z.object({ value: z.number(), low: z.number(), high: z.number(), level: z.number(), resamples: z.number().int() });

const binSchema = z.object({ low: z.number(), high: z.number(), count: z.number().int().min(0), confidence: z.number(), accuracy: z.number() });
export type ReliabilityBin = z.infer<typeof binSchema>;

const common = {
  model: z.object({ name: z.string().max(200), version: z.string().max(200) }),
  /** Which data, e.g. "the test split of splits.json (2,500 images)". */
  data: z.string().max(1000),
  items: z.number().int().positive(),
  card: z.string().max(500).optional(),
  createdAt: z.string().max(100),
};

export const evaluationSchema = z.discriminatedUnion('task', [
  z.object({
    task: z.literal('classification'),
    ...common,
    labels: z.array(z.string().max(200)).min(2).max(1000),
    accuracy: intervalSchema,
    perClass: z.array(z.object({ label: z.string().max(200), precision: z.number(), recall: z.number(), support: z.number().int() })),
    /** [actual][predicted]. */
    confusion: z.array(z.array(z.number().int().min(0))),
    calibration: z.object({
      temperature: z.number(),
      eceBefore: z.number(),
      eceAfter: z.number(),
      /** Bootstrap interval of the served (calibrated) ECE: with few inputs, ECE itself is noisy. */
      eceAfterInterval: intervalSchema.optional(),
      nllBefore: z.number(),
      nllAfter: z.number(),
      bins: z.object({ before: z.array(binSchema), after: z.array(binSchema) }),
    }),
  }),
  z.object({
    task: z.literal('regression'),
    ...common,
    target: z.string().max(200),
    meanAbsoluteError: intervalSchema,
    errors: z.object({ interval: z.object({ low: z.number(), high: z.number(), coverage: z.number() }), values: z.array(z.number()).max(100_000) }),
    /** Rounded predictions against whole-number targets: accuracy at tolerance 0.5 and its confusion. */
    rounded: z.object({ accuracy: intervalSchema, labels: z.array(z.string().max(50)), confusion: z.array(z.array(z.number().int().min(0))) }).optional(),
  }),
]);
export type Evaluation = z.infer<typeof evaluationSchema>;
export type ClassificationEvaluation = Extract<Evaluation, { task: 'classification' }>;
export type RegressionEvaluation = Extract<Evaluation, { task: 'regression' }>;

const top = (row: ArrayLike<number>): number => {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
};

/** Answers binned by confidence (`bins` equal widths): count, mean confidence and accuracy of each bin. */
export function reliabilityBins(rows: readonly Float32Array[], labels: readonly number[], bins = ECE_BINS): ReliabilityBin[] {
  const out = Array.from({ length: bins }, (_, b) => ({ low: b / bins, high: (b + 1) / bins, count: 0, confidence: 0, accuracy: 0 }));
  rows.forEach((row, n) => {
    const k = top(row);
    const bin = out[Math.min(bins - 1, Math.floor(row[k]! * bins))]!;
    bin.count++;
    bin.confidence += row[k]!;
    if (k === labels[n]) bin.accuracy++;
  });
  return out.map((b) => ({ low: rounded(b.low), high: rounded(b.high), count: b.count, confidence: b.count ? rounded(b.confidence / b.count) : 0, accuracy: b.count ? rounded(b.accuracy / b.count) : 0 }));
}

/** A classifier's figures from its own probabilities (`raw`, before any temperature) and the true labels. */
export function classificationEvaluation(labels: readonly string[], raw: readonly Float32Array[], actual: readonly number[], temperature: number, about: Pick<Evaluation, 'model' | 'data'> & { seed?: number }): ClassificationEvaluation {
  const k = labels.length;
  const predicted = raw.map(top);
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  actual.forEach((a, i) => confusion[a]![predicted[i]!]!++);
  const scaled = raw.map((r) => applyTemperature(Float32Array.from(r), k, temperature));
  return {
    task: 'classification',
    ...about,
    items: raw.length,
    createdAt: new Date().toISOString(),
    labels: [...labels],
    accuracy: roundedInterval(accuracyInterval(actual, predicted, about.seed ?? 1)),
    perClass: labels.map((label, c) => {
      const said = confusion.reduce((a, row) => a + row[c]!, 0);
      const support = confusion[c]!.reduce((a, b) => a + b, 0);
      return { label, precision: rounded(said ? confusion[c]![c]! / said : 0), recall: rounded(support ? confusion[c]![c]! / support : 0), support };
    }),
    confusion,
    calibration: {
      temperature,
      eceBefore: rounded(expectedCalibrationError(raw, actual)),
      eceAfter: rounded(expectedCalibrationError(scaled, actual)),
      eceAfterInterval: roundedInterval(
        bootstrapInterval(
          scaled.length,
          (idx) =>
            expectedCalibrationError(
              idx.map((i) => scaled[i]!),
              idx.map((i) => actual[i]!),
            ),
          { seed: about.seed ?? 1, resamples: 500 },
        ),
      ),
      nllBefore: rounded(negativeLogLikelihood(raw, actual)),
      nllAfter: rounded(negativeLogLikelihood(raw, actual, temperature)),
      bins: { before: reliabilityBins(raw, actual), after: reliabilityBins(scaled, actual) },
    },
  };
}

/** A regressor's figures: mean absolute error (with its interval), the 90 % error interval, and for whole-number targets the rounded accuracy. */
export function regressionEvaluation(predicted: readonly number[], actual: readonly number[], target: { name: string; min?: number | undefined; max?: number | undefined }, about: Pick<Evaluation, 'model' | 'data'> & { seed?: number }): RegressionEvaluation {
  const seed = about.seed ?? 1;
  const distribution = errorDistribution(predicted, actual, 0.9);
  const whole = actual.every(Number.isInteger) && target.min !== undefined && target.max !== undefined && target.max - target.min <= 50;
  let roundedFigures: RegressionEvaluation['rounded'];
  if (whole) {
    const lo = target.min!;
    const hi = target.max!;
    const clamp = (v: number): number => Math.min(hi, Math.max(lo, Math.round(v)));
    const r = predicted.map(clamp);
    const n = hi - lo + 1;
    const confusion = Array.from({ length: n }, () => new Array<number>(n).fill(0));
    actual.forEach((a, i) => confusion[clamp(a) - lo]![r[i]! - lo]!++);
    roundedFigures = { accuracy: roundedInterval(accuracyInterval(actual, r, seed)), labels: Array.from({ length: n }, (_, i) => String(lo + i)), confusion };
  }
  return {
    task: 'regression',
    ...about,
    items: predicted.length,
    createdAt: new Date().toISOString(),
    target: target.name,
    meanAbsoluteError: roundedInterval(bootstrapInterval(predicted.length, (idx) => mean(idx.map((i) => Math.abs(predicted[i]! - actual[i]!))), { seed })),
    errors: { interval: distribution.interval, values: predicted.map((p, i) => rounded(p - actual[i]!)) },
    ...(roundedFigures && { rounded: roundedFigures }),
  };
}
