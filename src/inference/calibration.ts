/**
 * Confidence calibration: temperature scaling (Guo et al., "On Calibration of Modern Neural
 * Networks", 2017) and the expected calibration error it is judged by. A classifier's
 * probabilities p become softmax(log p / T): T > 1 softens over-confident answers, T < 1
 * sharpens under-confident ones, and the most likely class never changes. Working from
 * probabilities is exact: log p differs from the logits by one constant per row, which the
 * softmax removes.
 */

/** The bins ECE is measured over (as the literature reports it). */
export const ECE_BINS = 15;
/** The temperatures searched: far wider than any model needs. */
const LOG_T_RANGE = [Math.log(0.05), Math.log(20)] as const;
/** Probabilities are floored here before the logarithm (a 0 would be -Infinity). */
const FLOOR = 1e-12;

/** Rows of `classes` probabilities, packed one after another, scaled by `temperature` in place. */
export function applyTemperature(probs: Float32Array, classes: number, temperature: number): Float32Array {
  if (temperature === 1) return probs;
  const inv = 1 / temperature;
  for (let r = 0; r < probs.length; r += classes) {
    let max = -Infinity;
    for (let i = r; i < r + classes; i++) max = Math.max(max, Math.log(Math.max(probs[i]!, FLOOR)) * inv);
    let sum = 0;
    for (let i = r; i < r + classes; i++) sum += probs[i] = Math.exp(Math.log(Math.max(probs[i]!, FLOOR)) * inv - max);
    for (let i = r; i < r + classes; i++) probs[i]! /= sum;
  }
  return probs;
}

/** Mean negative log-likelihood of the true labels under `temperature`. */
export function negativeLogLikelihood(rows: readonly Float32Array[], labels: readonly number[], temperature = 1): number {
  let total = 0;
  rows.forEach((row, n) => {
    const scaled = applyTemperature(Float32Array.from(row), row.length, temperature);
    total -= Math.log(Math.max(scaled[labels[n]!]!, FLOOR));
  });
  return total / Math.max(1, rows.length);
}

/**
 * Expected calibration error: answers binned by confidence (`bins` equal widths), the
 * gap between each bin's accuracy and mean confidence, weighted by its share of answers.
 */
export function expectedCalibrationError(rows: readonly Float32Array[], labels: readonly number[], bins = ECE_BINS): number {
  const count = new Array<number>(bins).fill(0);
  const correct = new Array<number>(bins).fill(0);
  const confidence = new Array<number>(bins).fill(0);
  rows.forEach((row, n) => {
    let best = 0;
    for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
    const p = row[best]!;
    const b = Math.min(bins - 1, Math.floor(p * bins));
    count[b]!++;
    confidence[b]! += p;
    if (best === labels[n]) correct[b]!++;
  });
  let ece = 0;
  for (let b = 0; b < bins; b++) if (count[b]! > 0) ece += (count[b]! / rows.length) * Math.abs(correct[b]! / count[b]! - confidence[b]! / count[b]!);
  return ece;
}

/** The temperature that minimises the negative log-likelihood of `labels` (golden-section search over log T). */
export function fitTemperature(rows: readonly Float32Array[], labels: readonly number[]): number {
  if (rows.length !== labels.length) throw new Error(`${rows.length} rows but ${labels.length} labels`);
  if (rows.length === 0) throw new Error('no rows to fit a temperature on');
  const loss = (logT: number): number => negativeLogLikelihood(rows, labels, Math.exp(logT));
  const phi = (Math.sqrt(5) - 1) / 2;
  let [a, b] = LOG_T_RANGE;
  let c = b - phi * (b - a);
  let d = a + phi * (b - a);
  let fc = loss(c);
  let fd = loss(d);
  while (b - a > 1e-4) {
    if (fc < fd) {
      [b, d, fd] = [d, c, fc];
      c = b - phi * (b - a);
      fc = loss(c);
    } else {
      [a, c, fc] = [c, d, fd];
      d = a + phi * (b - a);
      fd = loss(d);
    }
  }
  return Math.exp((a + b) / 2);
}
