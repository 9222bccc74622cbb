/** The standardization tabular models are trained and served with: one function for both. */
export interface Standardization {
  mean: readonly number[];
  std: readonly number[];
}

/** Mean and (population) standard deviation of each column; a constant column gets std 1. */
export function fitStandardization(rows: readonly (readonly number[])[]): Standardization {
  const n = rows.length;
  const k = rows[0]?.length ?? 0;
  const mean = Array.from({ length: k }, (_, j) => rows.reduce((a, r) => a + r[j]!, 0) / n);
  const std = mean.map((m, j) => Math.sqrt(rows.reduce((a, r) => a + (r[j]! - m) ** 2, 0) / n) || 1);
  return { mean, std };
}

/** (value − mean) / std for each feature, into `out` at `offset`. */
function standardizeInto(values: readonly number[], s: Standardization, out: Float32Array, offset = 0): void {
  for (let j = 0; j < values.length; j++) out[offset + j] = (values[j]! - s.mean[j]!) / s.std[j]!;
}

export function standardize(values: readonly number[], s: Standardization): Float32Array {
  const out = new Float32Array(values.length);
  standardizeInto(values, s, out);
  return out;
}
