/**
 * Write a TF.js model's inference plan (plan.ts: BatchNorm already folded into the
 * convolutions) as an ONNX graph, encoded with the ONNX project's protobuf schema (the
 * `onnx-proto` package, compiled by protobufjs). Images keep their NHWC input (the same
 * preprocessing contract); the graph transposes to NCHW once, as ONNX convolutions expect.
 * The batch axis is dynamic.
 */
import * as tf from '@tensorflow/tfjs';
import onnxProto from 'onnx-proto';
import type { InferencePlan } from '../tfjs/plan.js';

const { onnx } = onnxProto;

/** ONNX IR version 7 with operator set 13: read by every ONNX Runtime since 1.6. */
const ONNX_IR_VERSION = 7;
export const ONNX_OPSET = 13;

export interface ExportOptions {
  /** Shape of one input without the batch axis: [H, W, C] (NHWC images) or [F] (rows). */
  inputShape: number[];
  outputs: number;
  inputName: string;
  outputName: string;
  producerVersion: string;
  docString?: string;
}

type Attr = { name: string; ints?: number[]; i?: number; s?: string; floats?: number[]; strings?: string[] };

/** The ONNX-ML operator set (tree ensembles), imported by graphs that use it. */
export const ONNX_ML_DOMAIN = 'ai.onnx.ml';
const ONNX_ML_OPSET = 1;

export class GraphBuilder {
  /** Whether a node of the ONNX-ML domain is in the graph. */
  usesMl = false;
  readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  readonly initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  private count = 0;

  name(prefix: string): string {
    return `${prefix}_${this.count++}`;
  }

  node(opType: string, inputs: string[], attrs: Attr[] = [], output = this.name(opType.toLowerCase()), domain = ''): string {
    const { AttributeType } = onnx.AttributeProto;
    const text = (v: string): Uint8Array => new TextEncoder().encode(v);
    const attribute = attrs.map((a) =>
      a.ints !== undefined
        ? onnx.AttributeProto.create({ name: a.name, type: AttributeType.INTS, ints: a.ints })
        : a.floats !== undefined
          ? onnx.AttributeProto.create({ name: a.name, type: AttributeType.FLOATS, floats: a.floats })
          : a.strings !== undefined
            ? onnx.AttributeProto.create({ name: a.name, type: AttributeType.STRINGS, strings: a.strings.map(text) })
            : a.s !== undefined
              ? onnx.AttributeProto.create({ name: a.name, type: AttributeType.STRING, s: text(a.s) })
              : onnx.AttributeProto.create({ name: a.name, type: AttributeType.INT, i: a.i ?? 0 }),
    );
    if (domain === ONNX_ML_DOMAIN) this.usesMl = true;
    this.nodes.push(onnx.NodeProto.create({ opType, input: inputs, output: [output], name: output, attribute, ...(domain && { domain }) }));
    return output;
  }

  /** A float32 weight, stored little-endian in raw_data. */
  weight(prefix: string, values: Float32Array, dims: number[]): string {
    const name = this.name(prefix);
    const raw = new Uint8Array(values.length * 4);
    const view = new DataView(raw.buffer);
    values.forEach((v, i) => view.setFloat32(i * 4, v, true));
    this.initializers.push(onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: raw }));
    return name;
  }
}

function valueInfo(name: string, dims: (number | string)[]): InstanceType<typeof onnx.ValueInfoProto> {
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: onnx.TensorShapeProto.create({ dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) }),
      }),
    }),
  });
}

/** The graph `g` builds as a serialized ModelProto, with one input and one output of these shapes. */
export function encodeModel(g: GraphBuilder, opts: Pick<ExportOptions, 'inputName' | 'outputName' | 'producerVersion' | 'docString'>, input: (number | string)[], output: (number | string)[]): Uint8Array {
  const graph = onnx.GraphProto.create({
    name: 'served',
    node: g.nodes,
    initializer: g.initializers,
    input: [valueInfo(opts.inputName, input)],
    output: [valueInfo(opts.outputName, output)],
  });
  const model = onnx.ModelProto.create({
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }, ...(g.usesMl ? [{ domain: ONNX_ML_DOMAIN, version: ONNX_ML_OPSET }] : [])],
    producerName: 'ml-inference-api',
    producerVersion: opts.producerVersion,
    docString: opts.docString ?? '',
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}

const autoPad = (pad: 'same' | 'valid'): string => (pad === 'same' ? 'SAME_UPPER' : 'VALID');

/** The ONNX model (serialized ModelProto) computing `plan` on inputs of `opts.inputShape`. */
export function exportPlan(plan: InferencePlan, opts: ExportOptions): Uint8Array {
  const g = new GraphBuilder();
  let x = opts.inputName;
  // Where the running tensor's axes are: images start NHWC and run NCHW; rows are flat.
  const at: { layout: 'nhwc' | 'nchw' | 'flat' } = { layout: opts.inputShape.length === 3 ? 'nhwc' : 'flat' };
  const toNchw = (): void => {
    if (at.layout === 'nhwc') x = g.node('Transpose', [x], [{ name: 'perm', ints: [0, 3, 1, 2] }]);
    at.layout = 'nchw';
  };
  for (const step of plan.steps) {
    switch (step.op) {
      case 'conv': {
        toNchw();
        // TF.js filters are [kh, kw, in, out]; ONNX wants [out, in, kh, kw].
        const w = tf.tidy(() => tf.transpose(step.filter, [3, 2, 0, 1]));
        const [kh, kw] = step.filter.shape;
        const wName = g.weight('W', w.dataSync() as Float32Array, w.shape);
        w.dispose();
        const bName = g.weight('B', step.bias.dataSync() as Float32Array, step.bias.shape);
        x = g.node('Conv', [x, wName, bName], [
          { name: 'kernel_shape', ints: [kh, kw] },
          { name: 'strides', ints: step.strides },
          { name: 'auto_pad', s: autoPad(step.pad) },
        ]);
        if (step.relu) x = g.node('Relu', [x]);
        break;
      }
      case 'pool': {
        toNchw();
        const attrs: Attr[] = [
          { name: 'kernel_shape', ints: step.size },
          { name: 'strides', ints: step.strides },
          { name: 'auto_pad', s: autoPad(step.pad) },
        ];
        // TF averages over the window's real pixels only; so does ONNX with count_include_pad 0.
        x = step.kind === 'max' ? g.node('MaxPool', [x], attrs) : g.node('AveragePool', [x], [...attrs, { name: 'count_include_pad', i: 0 }]);
        break;
      }
      case 'globalAvgPool':
        toNchw();
        x = g.node('Flatten', [g.node('GlobalAveragePool', [x])], [{ name: 'axis', i: 1 }]);
        at.layout = 'flat';
        break;
      case 'flatten':
        // Keras flattens in NHWC order.
        if (at.layout === 'nchw') x = g.node('Transpose', [x], [{ name: 'perm', ints: [0, 2, 3, 1] }]);
        x = g.node('Flatten', [x], [{ name: 'axis', i: 1 }]);
        at.layout = 'flat';
        break;
      case 'dense': {
        const k = g.weight('K', step.kernel.dataSync() as Float32Array, step.kernel.shape);
        x = step.bias ? g.node('Gemm', [x, k, g.weight('b', step.bias.dataSync() as Float32Array, step.bias.shape)]) : g.node('MatMul', [x, k]);
        if (step.activation === 'relu') x = g.node('Relu', [x]);
        if (step.activation === 'softmax') x = g.node('Softmax', [x], [{ name: 'axis', i: -1 }]);
        break;
      }
      case 'softmax':
        x = g.node('Softmax', [x], [{ name: 'axis', i: -1 }]);
        break;
      case 'relu':
        x = g.node('Relu', [x]);
        break;
    }
  }
  if (at.layout !== 'flat') throw new Error('the model does not end in a flat output');
  g.node('Identity', [x], [], opts.outputName);
  return encodeModel(g, opts, ['N', ...opts.inputShape], ['N', opts.outputs]);
}

/**
 * A linear classifier as an ONNX model: probabilities = Softmax(x · W + b), for inputs of
 * `features` values (W is [features × classes], row-major). The batch axis is dynamic.
 */
export function exportLinearSoftmax(weights: Float32Array, bias: Float32Array, opts: Omit<ExportOptions, 'inputShape' | 'outputs'> & { features: number; classes: number }): Uint8Array {
  if (weights.length !== opts.features * opts.classes || bias.length !== opts.classes) throw new Error('weights must be [features × classes] and bias [classes]');
  const g = new GraphBuilder();
  const w = g.weight('W', weights, [opts.features, opts.classes]);
  const b = g.weight('b', bias, [opts.classes]);
  const z = g.node('Add', [g.node('MatMul', [opts.inputName, w]), b]);
  g.node('Softmax', [z], [{ name: 'axis', i: -1 }], opts.outputName);
  return encodeModel(g, opts, ['N', opts.features], ['N', opts.classes]);
}
