/** One loaded image classifier: the Layers model, its metadata, and batched prediction. */
import * as tf from '@tensorflow/tfjs';
import { foldForInference, type FoldedModel } from './fold.js';
import { DescribedModel, readMetadata, type ModelMetadata } from './metadata.js';
import { loadModelFromDir } from './model-files.js';

export class ImageClassifier extends DescribedModel {
  private disposed = false;
  /** Seconds spent loading and warming up. */
  loadSeconds = 0;
  /** The model compiled for inference (BatchNorm folded, fused conv+bias+ReLU), when it applies. */
  private folded: FoldedModel | null = null;

  private constructor(
    private readonly model: tf.LayersModel,
    metadata: ModelMetadata,
    readonly dir: string,
  ) {
    super(metadata);
  }

  /** Load `dir` (model.json, shards, metadata.json), check they agree, and warm up. */
  static async load(dir: string, warmupRuns = 2): Promise<ImageClassifier> {
    const started = performance.now();
    const metadata = await readMetadata(dir);
    const model = await loadModelFromDir(dir);
    try {
      checkShapes(model, metadata);
      const classifier = new ImageClassifier(model, metadata, dir);
      classifier.folded = verifiedFold(model, metadata);
      for (let i = 0; i < warmupRuns; i++) await classifier.classify([new Float32Array(classifier.inputSize)]);
      classifier.loadSeconds = (performance.now() - started) / 1000;
      return classifier;
    } catch (err) {
      model.dispose();
      throw err;
    }
  }

  /** Class probabilities for each input, computed as one batched tensor. */
  async classify(inputs: readonly Float32Array[]): Promise<Float32Array[]> {
    const n = inputs.length;
    if (n === 0) return [];
    const size = this.inputSize;
    const batch = new Float32Array(n * size);
    inputs.forEach((input, i) => {
      if (input.length !== size) throw new RangeError(`input ${i} has ${input.length} values, expected ${size}`);
      batch.set(input, i * size);
    });
    const flat = await this.classifyPacked(batch, n);
    const k = this.labels.length;
    return Array.from({ length: n }, (_, i) => flat.slice(i * k, (i + 1) * k));
  }

  /** Probabilities (n × classes) for `n` images packed one after another in `batch`. */
  async classifyPacked(batch: Float32Array, n: number): Promise<Float32Array> {
    if (this.disposed) throw new Error(`the model in ${this.dir} has been disposed`);
    if (batch.length !== n * this.inputSize) throw new RangeError(`batch has ${batch.length} values, expected ${n} × ${this.inputSize}`);
    const [h, w, c] = this.metadata.inputShape;
    const probs = tf.tidy(() => {
      const x = tf.tensor4d(batch, [n, h, w, c]);
      return this.folded ? this.folded.run(x) : (this.model.predict(x) as tf.Tensor);
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
function verifiedFold(model: tf.LayersModel, metadata: ModelMetadata): FoldedModel | null {
  const folded = foldForInference(model);
  if (!folded) return null;
  const diff = tf.tidy(() => {
    const x = tf.randomUniform([2, ...metadata.inputShape], -1, 1, 'float32', 7) as tf.Tensor4D;
    return tf.max(tf.abs(tf.sub(folded.run(x), model.predict(x) as tf.Tensor))).dataSync()[0]!;
  });
  if (diff <= 1e-4) return folded;
  folded.dispose();
  return null;
}

function checkShapes(model: tf.LayersModel, metadata: ModelMetadata): void {
  const input = model.inputs[0]?.shape ?? [];
  const output = model.outputs[0]?.shape ?? [];
  const expectedIn = [null, ...metadata.inputShape];
  if (JSON.stringify(input) !== JSON.stringify(expectedIn)) {
    throw new Error(`model input shape ${JSON.stringify(input)} does not match metadata inputShape ${JSON.stringify(expectedIn)}`);
  }
  if (JSON.stringify(output) !== JSON.stringify([null, metadata.labels.length])) {
    throw new Error(`model output shape ${JSON.stringify(output)} does not match ${metadata.labels.length} labels in metadata`);
  }
}
