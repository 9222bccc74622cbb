/**
 * Linear classifiers over sparse feature vectors, the families the text trainer compares:
 *   logistic: multinomial logistic regression with an L2 penalty, full-batch Adam (deterministic);
 *   bayes:    multinomial naive Bayes over the (tf-idf) feature values, additive smoothing.
 * Both give class scores z = W·x + b, so both are served as the same graph: MatMul, Add, Softmax.
 */
import type { SparseVector } from '../../kinds/text/pipeline.js';

export interface LinearModel {
  /** [features × classes], row-major. */
  weights: Float32Array;
  bias: Float32Array;
  features: number;
  classes: number;
}

export type Family = { family: 'logistic'; l2: number; epochs: number } | { family: 'bayes'; alpha: number };

export interface Example {
  x: SparseVector;
  y: number;
  /** How much the example counts in training (1 unless classes are weighted). */
  weight?: number;
}

/** Class scores z = W·x + b. */
export function scores(model: LinearModel, x: SparseVector): Float64Array {
  const z = Float64Array.from(model.bias);
  const { indices, values } = x;
  for (let k = 0; k < indices.length; k++) {
    const row = indices[k]! * model.classes;
    const v = values[k]!;
    for (let c = 0; c < model.classes; c++) z[c]! += model.weights[row + c]! * v;
  }
  return z;
}

export function softmax(z: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < z.length; i++) max = Math.max(max, z[i]!);
  const out = Float64Array.from({ length: z.length }, (_, i) => Math.exp(z[i]! - max));
  const sum = out.reduce((a, b) => a + b, 0);
  return out.map((v) => v / sum);
}

function trainLogistic(examples: readonly Example[], features: number, classes: number, opts: { l2: number; epochs: number }): LinearModel {
  const size = features * classes;
  const w = new Float64Array(size);
  const b = new Float64Array(classes);
  const m = new Float64Array(size + classes);
  const v = new Float64Array(size + classes);
  const grad = new Float64Array(size + classes);
  const total = examples.reduce((a, e) => a + (e.weight ?? 1), 0);
  const [beta1, beta2, eps, rate] = [0.9, 0.999, 1e-8, 0.05];
  const model = (): LinearModel => ({ weights: Float32Array.from(w), bias: Float32Array.from(b), features, classes });
  for (let epoch = 1; epoch <= opts.epochs; epoch++) {
    grad.fill(0);
    const z = new Float64Array(classes);
    for (const e of examples) {
      z.set(b);
      const { indices, values } = e.x;
      for (let k = 0; k < indices.length; k++) {
        const row = indices[k]! * classes;
        for (let c = 0; c < classes; c++) z[c]! += w[row + c]! * values[k]!;
      }
      const p = softmax(z);
      const scale = (e.weight ?? 1) / total;
      for (let c = 0; c < classes; c++) {
        const d = (p[c]! - (c === e.y ? 1 : 0)) * scale;
        grad[size + c]! += d;
        for (let k = 0; k < indices.length; k++) grad[indices[k]! * classes + c]! += d * values[k]!;
      }
    }
    for (let i = 0; i < size; i++) grad[i]! += opts.l2 * w[i]!;
    const c1 = 1 - beta1 ** epoch;
    const c2 = 1 - beta2 ** epoch;
    for (let i = 0; i < size + classes; i++) {
      const g = grad[i]!;
      m[i] = beta1 * m[i]! + (1 - beta1) * g;
      v[i] = beta2 * v[i]! + (1 - beta2) * g * g;
      const step = (rate * (m[i]! / c1)) / (Math.sqrt(v[i]! / c2) + eps);
      if (i < size) w[i]! -= step;
      else b[i - size]! -= step;
    }
  }
  return model();
}

function trainBayes(examples: readonly Example[], features: number, classes: number, alpha: number): LinearModel {
  const mass = new Float64Array(features * classes);
  const totals = new Float64Array(classes);
  const counts = new Float64Array(classes);
  for (const e of examples) {
    counts[e.y]! += 1;
    e.x.indices.forEach((j, k) => {
      mass[j * classes + e.y]! += e.x.values[k]!;
      totals[e.y]! += e.x.values[k]!;
    });
  }
  const weights = new Float32Array(features * classes);
  for (let j = 0; j < features; j++) {
    for (let c = 0; c < classes; c++) weights[j * classes + c] = Math.log((mass[j * classes + c]! + alpha) / (totals[c]! + alpha * features));
  }
  const bias = Float32Array.from(counts, (n) => Math.log(n / examples.length));
  return { weights, bias, features, classes };
}

export function trainLinear(examples: readonly Example[], features: number, classes: number, family: Family): LinearModel {
  if (family.family === 'bayes') return trainBayes(examples, features, classes, family.alpha);
  return trainLogistic(examples, features, classes, family);
}

/** The model with `shift` added to class `c`'s bias: moves the decision boundary without touching the weights. */
export function shifted(model: LinearModel, c: number, shift: number): LinearModel {
  const bias = Float32Array.from(model.bias);
  bias[c]! += shift;
  return { ...model, bias };
}
