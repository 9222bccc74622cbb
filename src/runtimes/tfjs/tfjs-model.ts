/**
 * One loaded TF.js Layers model and batched prediction: `n` inputs of `signature.inputShape`
 * in, `n × signature.outputs` values out. Image classifiers and tabular models alike; what
 * the numbers mean is the model kind's business. Every TF.js model the server runs is one of these.
 */
import * as tf from '@tensorflow/tfjs';
import { foldForInference, type FoldedModel } from './fold.js';
import type { ModelSignature } from '../runtime.js';
import { loadModelFromDir } from './model-files.js';

export class TfjsModel {
  private disposed = false;
  /** Seconds spent loading and warming up. */
  loadSeconds = 0;
  /** The model compiled for inference (BatchNorm folded, fused conv+bias+ReLU), when it applies. */
  private folded: FoldedModel | null = null;

  private constructor(
    private readonly model: tf.LayersModel,
    readonly signature: ModelSignature,
    readonly dir: string,
  ) {}

  /**
   * Load `dir` (model.json and shards), check its shapes against `signature`, and warm up.
   */
  static async load(dir: string, sig: ModelSignature, warmupRuns = 2): Promise<TfjsModel> {
    const started = performance.now();
    const model = await loadModelFromDir(dir);
    try {
      checkShapes(model, sig);
      const classifier = new TfjsModel(model, sig, dir);
      classifier.folded = verifiedFold(model, sig);
      for (let i = 0; i < warmupRuns; i++) await classifier.predict([new Float32Array(classifier.inputSize)]);
      classifier.loadSeconds = (performance.now() - started) / 1000;
      return classifier;
    } catch (err) {
      model.dispose();
      throw err;
    }
  }

  /** Values in one input. */
  get inputSize(): number {
    return this.signature.inputShape.reduce((a, b) => a * b, 1);
  }

  /** Outputs for each input, computed as one batched tensor. */
  async predict(inputs: readonly Float32Array[]): Promise<Float32Array[]> {
    const n = inputs.length;
    if (n === 0) return [];
    const size = this.inputSize;
    const batch = new Float32Array(n * size);
    inputs.forEach((input, i) => {
      if (input.length !== size) throw new RangeError(`input ${i} has ${input.length} values, expected ${size}`);
      batch.set(input, i * size);
    });
    const flat = await this.predictPacked(batch, n);
    const k = this.signature.outputs;
    return Array.from({ length: n }, (_, i) => flat.slice(i * k, (i + 1) * k));
  }

  /** Probabilities (n × classes) for `n` images packed one after another in `batch`. */
  async predictPacked(batch: Float32Array, n: number): Promise<Float32Array> {
    if (this.disposed) throw new Error(`the model in ${this.dir} has been disposed`);
    if (batch.length !== n * this.inputSize) throw new RangeError(`batch has ${batch.length} values, expected ${n} × ${this.inputSize}`);
    const probs = tf.tidy(() => {
      const x = tf.tensor(batch, [n, ...this.signature.inputShape]);
      return this.folded ? this.folded.run(x as tf.Tensor4D) : (this.model.predict(x) as tf.Tensor);
    });
    try {
      return (await probs.data()) as Float32Array;
    } finally {
      probs.dispose();
    }
  }

  /** Whether inference runs the compiled (folded) graph rather than the layers as loaded. */
  get compiled(): boolean {
    return this.folded !== null;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.folded?.dispose();
    this.model.dispose();
  }
}

/** The folded graph, if it gives the model's own outputs on a random batch; else null. */
function verifiedFold(model: tf.LayersModel, signature: ModelSignature): FoldedModel | null {
  const folded = foldForInference(model);
  if (!folded) return null;
  const diff = tf.tidy(() => {
    const x = tf.randomUniform([2, ...signature.inputShape], -1, 1, 'float32', 7);
    return tf.max(tf.abs(tf.sub(folded.run(x as tf.Tensor4D), model.predict(x) as tf.Tensor))).dataSync()[0]!;
  });
  if (diff <= 1e-4) return folded;
  folded.dispose();
  return null;
}

function checkShapes(model: tf.LayersModel, signature: ModelSignature): void {
  const input = model.inputs[0]?.shape ?? [];
  const output = model.outputs[0]?.shape ?? [];
  const expectedIn = [null, ...signature.inputShape];
  if (JSON.stringify(input) !== JSON.stringify(expectedIn)) {
    throw new Error(`model input shape ${JSON.stringify(input)} does not match metadata inputShape ${JSON.stringify(expectedIn)}`);
  }
  if (JSON.stringify(output) !== JSON.stringify([null, signature.outputs])) {
    throw new Error(`model output shape ${JSON.stringify(output)} does not match ${signature.outputs} outputs in metadata`);
  }
}
