/** The inference-time compilation gives the model's own outputs, and declines what it cannot fold. */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/runtimes/tfjs/backend.js';
import { loadImageModel } from '../helpers/tfjs.js';
import { foldForInference } from '../../src/runtimes/tfjs/fold.js';
import { loadModelFromDir } from '../../src/runtimes/tfjs/model-files.js';
import { SHIPPED_MODEL } from '../helpers/app.js';

function maxDiff(model: tf.LayersModel, inputShape: number[]): number {
  const folded = foldForInference(model);
  expect(folded).not.toBeNull();
  const diff = tf.tidy(() => {
    const x = tf.randomNormal([5, ...inputShape] as [number, number, number, number], 0, 1, 'float32', 3) as tf.Tensor4D;
    return tf.max(tf.abs(tf.sub(folded!.run(x), model.predict(x) as tf.Tensor))).dataSync()[0]!;
  });
  folded!.dispose();
  return diff;
}

/** Give every batch-norm layer random statistics and gammas of mixed sign, so folding is really exercised. */
function randomiseBatchNorm(model: tf.LayersModel, negativeGamma: boolean): void {
  for (const layer of model.layers.filter((l) => l.getClassName() === 'BatchNormalization')) {
    const n = layer.getWeights()[0]!.shape[0]!;
    const g = tf.randomUniform([n], 0.5, 1.5, 'float32', 1).mul(negativeGamma ? tf.tensor1d(Array.from({ length: n }, (_, i) => (i % 3 === 0 ? -1 : 1))) : 1);
    layer.setWeights([g, tf.randomNormal([n], 0, 0.5, 'float32', 2), tf.randomNormal([n], 0, 0.5, 'float32', 4), tf.randomUniform([n], 0.5, 2, 'float32', 5)]);
  }
}

describe('foldForInference', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('compiles the shipped model to the same outputs and releases its tensors', async () => {
    const model = await loadModelFromDir(SHIPPED_MODEL);
    const before = tf.memory().numTensors;
    expect(maxDiff(model, [32, 32, 3])).toBeLessThan(1e-5);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('is what the classifier runs', async () => {
    const classifier = await loadImageModel(SHIPPED_MODEL, 0);
    expect(classifier.compiled).toBe(true);
    classifier.dispose();
  });

  it('folds conv → batch norm → ReLU with negative gammas, convs with their own bias and ReLU, pools, dropout and dense', () => {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [12, 12, 3], filters: 6, kernelSize: 3, padding: 'same', useBias: false }),
        tf.layers.batchNormalization(),
        tf.layers.reLU(),
        tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'valid', activation: 'relu', biasInitializer: 'randomNormal' }),
        tf.layers.averagePooling2d({ poolSize: 2 }),
        tf.layers.dropout({ rate: 0.5 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 4, activation: 'softmax' }),
      ],
    });
    randomiseBatchNorm(model, true);
    expect(maxDiff(model, [12, 12, 3])).toBeLessThan(1e-5);
    model.dispose();
  });

  it('folds batch norm across a max pool only when every scale is positive', () => {
    const build = () =>
      tf.sequential({
        layers: [
          tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 6, kernelSize: 3, padding: 'same', useBias: false }),
          tf.layers.maxPooling2d({ poolSize: 2 }),
          tf.layers.batchNormalization(),
          tf.layers.reLU(),
          tf.layers.globalAveragePooling2d({}),
          tf.layers.dense({ units: 3 }),
        ],
      });
    const positive = build();
    randomiseBatchNorm(positive, false);
    expect(maxDiff(positive, [8, 8, 3])).toBeLessThan(1e-5);
    positive.dispose();

    const negative = build();
    randomiseBatchNorm(negative, true);
    const before = tf.memory().numTensors;
    expect(foldForInference(negative)).toBeNull();
    expect(tf.memory().numTensors).toBe(before);
    negative.dispose();
  });

  it('declines layers it does not know', () => {
    const model = tf.sequential({
      layers: [tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3 }), tf.layers.layerNormalization(), tf.layers.flatten(), tf.layers.dense({ units: 2 })],
    });
    expect(foldForInference(model)).toBeNull();
    model.dispose();
  });
});
