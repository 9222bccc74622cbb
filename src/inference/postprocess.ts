/** Turn a probability vector into the prediction the API returns. */
export interface TopKEntry {
  label: string;
  probability: number;
}

export interface ClassPrediction {
  class_label: string;
  class_index: number;
  confidence: number;
  probabilities: number[];
  top_k: TopKEntry[];
}

/** Arg-max class, rounded probabilities in label order, and the `k` most likely labels. */
export function toPrediction(probs: Float32Array, labels: readonly string[], k: number): ClassPrediction {
  const probabilities = Array.from(probs, (p) => Math.round(p * 1e6) / 1e6);
  const order = probabilities.map((_, i) => i).sort((a, b) => probs[b]! - probs[a]! || a - b);
  const best = order[0]!;
  return {
    class_label: labels[best]!,
    class_index: best,
    confidence: probabilities[best]!,
    probabilities,
    top_k: order.slice(0, Math.min(k, labels.length)).map((i) => ({ label: labels[i]!, probability: probabilities[i]! })),
  };
}

/** Index of the largest value (the first, on ties). */
export function argMax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}
