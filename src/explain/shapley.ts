/**
 * Exact Shapley values of a model output over its features, against a baseline row (the
 * training mean): every coalition S of features is evaluated with the features in S taken
 * from the input and the others from the baseline, and feature i gets
 *   φ_i = Σ_{S ∌ i} |S|! (F − |S| − 1)! / F! · (v(S ∪ {i}) − v(S)).
 * The values add up to v(all) − v(none) = f(x) − f(baseline) (efficiency). 2^F evaluations.
 */

/** The largest feature count explained exactly (2^12 = 4,096 evaluations). */
export const MAX_EXACT_FEATURES = 12;

/** Coalition `mask` (bit i set: feature i from the input) as a row. */
function coalitionRow(x: readonly number[], baseline: readonly number[], mask: number): number[] {
  return x.map((v, i) => ((mask >> i) & 1 ? v : baseline[i]!));
}

export interface Shapley {
  values: number[];
  /** The explained output at the input and at the baseline. */
  value: number;
  baselineValue: number;
  evaluations: number;
}

export async function exactShapley(x: readonly number[], baseline: readonly number[], evaluate: (rows: number[][]) => Promise<number[]>): Promise<Shapley> {
  const f = x.length;
  if (f > MAX_EXACT_FEATURES) throw new RangeError(`exact Shapley values need 2^${f} evaluations; at most ${MAX_EXACT_FEATURES} features`);
  const n = 1 << f;
  const v = await evaluate(Array.from({ length: n }, (_, mask) => coalitionRow(x, baseline, mask)));
  const factorial = [1];
  for (let k = 1; k <= f; k++) factorial.push(factorial[k - 1]! * k);
  const popcount = (m: number): number => {
    let c = 0;
    for (let b = m; b; b &= b - 1) c++;
    return c;
  };
  const values = new Array<number>(f).fill(0);
  for (let mask = 0; mask < n; mask++) {
    const size = popcount(mask);
    for (let i = 0; i < f; i++) {
      if ((mask >> i) & 1) continue;
      const weight = (factorial[size]! * factorial[f - size - 1]!) / factorial[f]!;
      values[i]! += weight * (v[mask | (1 << i)]! - v[mask]!);
    }
  }
  return { values, value: v[n - 1]!, baselineValue: v[0]!, evaluations: n };
}
