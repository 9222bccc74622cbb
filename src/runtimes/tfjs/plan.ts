/**
 * The inference plan of a Keras layer chain, as TF's Grappler or TensorRT compile a graph
 * before serving: each BatchNormalization is folded into the convolution before it (weights
 * scaled, a bias added), and bias and ReLU belong to the convolution. The TF.js runtime runs
 * the plan with fused kernels (fold.ts); the ONNX exporter writes the same plan as a graph,
 * so both runtimes serve the same computation.
 *
 * Only a plain chain of known layers is planned; anything else gives null (the model then
 * runs as loaded, and cannot be exported).
 */
import * as tf from '@tensorflow/tfjs';

export type PlanStep =
  | { op: 'conv'; filter: tf.Tensor4D; bias: tf.Tensor1D; strides: [number, number]; pad: 'same' | 'valid'; relu: boolean }
  | { op: 'pool'; kind: 'max' | 'avg'; size: [number, number]; strides: [number, number]; pad: 'same' | 'valid' }
  | { op: 'globalAvgPool' }
  | { op: 'dense'; kernel: tf.Tensor2D; bias: tf.Tensor1D | null; activation: 'linear' | 'relu' | 'softmax' }
  | { op: 'softmax' }
  | { op: 'relu' }
  | { op: 'flatten' };

export interface InferencePlan {
  steps: PlanStep[];
  /** Frees the plan's weights (copies: the model keeps its own). */
  dispose(): void;
}

type Config = Record<string, unknown>;

const same = (xs: unknown, v: number): boolean => Array.isArray(xs) && xs.every((x) => x === v);
const pair = (v: unknown): [number, number] => (Array.isArray(v) ? [Number(v[0]), Number(v[1])] : [Number(v), Number(v)]);
const padding = (v: unknown): 'same' | 'valid' => (v === 'same' ? 'same' : 'valid');
const isRelu = (layer: tf.layers.Layer | undefined): boolean => {
  if (!layer) return false;
  const c = layer.getConfig() as Config;
  if (layer.getClassName() === 'ReLU') return c.maxValue == null && !c.negativeSlope && !c.threshold;
  return layer.getClassName() === 'Activation' && c.activation === 'relu';
};

function poolStep(layer: tf.layers.Layer): PlanStep {
  const c = layer.getConfig() as Config;
  return { op: 'pool', kind: layer.getClassName() === 'MaxPooling2D' ? 'max' : 'avg', size: pair(c.poolSize), strides: pair(c.strides ?? c.poolSize), pad: padding(c.padding) };
}

/** The layers as a single chain, input first; null if the graph branches. */
function chain(model: tf.LayersModel): tf.layers.Layer[] | null {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) return null;
  // Sequential models leave their input layer out of `layers`.
  const first = model.layers[0];
  const input = first?.getClassName() === 'InputLayer' ? first : first?.inboundNodes[0]?.inboundLayers[0];
  if (!input || input.getClassName() !== 'InputLayer') return null;
  const layers = first === input ? model.layers : [input, ...model.layers];
  for (let i = 1; i < layers.length; i++) {
    const nodes = layers[i]!.inboundNodes;
    if (nodes.length !== 1 || nodes[0]!.inboundLayers.length !== 1 || nodes[0]!.inboundLayers[0] !== layers[i - 1]) return null;
  }
  return layers;
}

/** Plan `model` for inference, or null when it is not a chain of supported layers. */
export function planInference(model: tf.LayersModel): InferencePlan | null {
  const layers = chain(model);
  if (!layers) return null;
  const kept: tf.Tensor[] = [];
  const keep = <T extends tf.Tensor>(t: T): T => {
    kept.push(tf.keep(t));
    return t;
  };
  const steps: PlanStep[] = [];
  const fail = (): null => {
    tf.dispose(kept);
    return null;
  };

  for (let i = 1; i < layers.length; ) {
    const layer = layers[i]!;
    const cls = layer.getClassName();
    const c = layer.getConfig() as Config;
    if (cls === 'Conv2D') {
      if (c.dataFormat !== 'channelsLast' || !same(c.dilationRate, 1) || (c.activation !== 'linear' && c.activation !== 'relu')) return fail();
      const [kernel, convBias] = layer.getWeights();
      let j = i + 1;
      // conv → [max pool] → batch norm → [relu]
      const poolFirst = layers[j]?.getClassName() === 'MaxPooling2D' && layers[j + 1]?.getClassName() === 'BatchNormalization' ? layers[j++] : undefined;
      const bn = c.activation === 'linear' && layers[j]?.getClassName() === 'BatchNormalization' ? layers[j++] : undefined;
      if (poolFirst && !bn) return fail();
      let folded: { filter: tf.Tensor4D; bias: tf.Tensor1D } | null = null;
      tf.tidy(() => {
        let filter = kernel as tf.Tensor4D;
        let bias: tf.Tensor1D = (convBias as tf.Tensor1D | undefined) ?? tf.zeros([filter.shape[3]]);
        if (bn) {
          const bc = bn.getConfig() as Config;
          if (bc.axis !== -1 && bc.axis !== 3) return;
          const w = bn.getWeights();
          const gamma = bc.scale ? w.shift()! : tf.onesLike(bias);
          const beta = bc.center ? w.shift()! : tf.zerosLike(bias);
          const [mean, variance] = w as [tf.Tensor1D, tf.Tensor1D];
          const scale = tf.div(gamma, tf.sqrt(tf.add(variance, Number(bc.epsilon))));
          // max(a·x + b) = a·max(x) + b only for a > 0: folding across the pool needs it.
          if (poolFirst && scale.min().dataSync()[0]! <= 0) return;
          filter = tf.mul(filter, scale);
          bias = tf.add(tf.mul(tf.sub(bias, mean), scale), beta);
        }
        // keep() inside tidy: these two outlive it (and are disposed with the plan).
        folded = { filter: keep(filter === kernel ? tf.clone(filter) : filter), bias: keep(bias === convBias ? tf.clone(bias) : bias) };
      });
      if (!folded) return fail();
      const { filter, bias } = folded as { filter: tf.Tensor4D; bias: tf.Tensor1D };
      const relu = c.activation === 'relu' || isRelu(layers[j]);
      if (c.activation === 'linear' && relu) j++;
      steps.push({ op: 'conv', filter, bias, strides: pair(c.strides), pad: padding(c.padding), relu });
      if (poolFirst) steps.push(poolStep(poolFirst));
      i = j;
      continue;
    }
    if (cls === 'MaxPooling2D' || cls === 'AveragePooling2D') {
      steps.push(poolStep(layer));
    } else if (cls === 'GlobalAveragePooling2D') {
      if (c.dataFormat !== undefined && c.dataFormat !== 'channelsLast') return fail();
      steps.push({ op: 'globalAvgPool' });
    } else if (cls === 'Dense') {
      if (c.activation !== 'linear' && c.activation !== 'relu' && c.activation !== 'softmax') return fail();
      const [kernel, bias] = layer.getWeights().map((t) => keep(tf.clone(t)));
      steps.push({ op: 'dense', kernel: kernel as tf.Tensor2D, bias: (bias as tf.Tensor1D | undefined) ?? null, activation: c.activation });
    } else if (cls === 'Softmax') {
      if (c.axis !== -1 && c.axis !== 1) return fail();
      steps.push({ op: 'softmax' });
    } else if (isRelu(layer)) {
      steps.push({ op: 'relu' });
    } else if (cls === 'Dropout') {
      // Identity at inference.
    } else if (cls === 'Flatten') {
      steps.push({ op: 'flatten' });
    } else {
      return fail();
    }
    i++;
  }
  return { steps, dispose: () => tf.dispose(kept) };
}
