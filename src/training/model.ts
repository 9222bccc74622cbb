/**
 * The CIFAR-10 network, defined with the TF.js Layers (Keras) API.
 *
 * A compact all-convolutional net in the style of the fast CIFAR-10 baselines: a stem
 * conv, then three blocks of conv → max-pool → BN → ReLU → conv → BN → ReLU, global average
 * pooling and a linear classifier. About 0.65 M parameters and 48 M multiply-adds.
 */
import * as tf from '@tensorflow/tfjs';

export interface NetworkSpec {
  inputSize: number;
  stemWidth: number;
  widths: [number, number, number];
  numClasses: number;
  /** Momentum of the BatchNorm moving statistics. */
  bnMomentum: number;
}

export const DEFAULT_SPEC: NetworkSpec = {
  inputSize: 32,
  stemWidth: 24,
  widths: [48, 96, 192],
  numClasses: 10,
  bnMomentum: 0.9,
};

export interface Networks {
  /** Outputs class probabilities (softmax); this is the model that is saved and served. */
  model: tf.LayersModel;
  /** Shares every layer with `model` and outputs the logits, for the training loss. */
  logits: tf.LayersModel;
}

function convBnRelu(x: tf.SymbolicTensor, filters: number, name: string, momentum: number, pool: boolean, seed: number): tf.SymbolicTensor {
  let y = tf.layers
    .conv2d({ filters, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: tf.initializers.heNormal({ seed }), name: `${name}_conv` })
    .apply(x) as tf.SymbolicTensor;
  if (pool) y = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `${name}_pool` }).apply(y) as tf.SymbolicTensor;
  y = tf.layers.batchNormalization({ momentum, epsilon: 1e-5, name: `${name}_bn` }).apply(y) as tf.SymbolicTensor;
  return tf.layers.reLU({ name: `${name}_relu` }).apply(y) as tf.SymbolicTensor;
}

/** Build the network with freshly initialised weights, drawn from `seed`. */
export function buildNetworks(spec: NetworkSpec = DEFAULT_SPEC, seed = 42): Networks {
  const input = tf.input({ shape: [spec.inputSize, spec.inputSize, 3], name: 'image' });
  let x = convBnRelu(input, spec.stemWidth, 'stem', spec.bnMomentum, false, seed);
  spec.widths.forEach((width, i) => {
    x = convBnRelu(x, width, `block${i + 1}a`, spec.bnMomentum, true, seed + 2 * i + 1);
    x = convBnRelu(x, width, `block${i + 1}b`, spec.bnMomentum, false, seed + 2 * i + 2);
  });
  x = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(x) as tf.SymbolicTensor;
  const logits = tf.layers
    .dense({ units: spec.numClasses, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 99 }), name: 'logits' })
    .apply(x) as tf.SymbolicTensor;
  const probs = tf.layers.softmax({ name: 'probabilities' }).apply(logits) as tf.SymbolicTensor;
  return {
    model: tf.model({ inputs: input, outputs: probs, name: 'cifar10' }),
    logits: tf.model({ inputs: input, outputs: logits, name: 'cifar10_logits' }),
  };
}
