/**
 * Small ONNX models written the way exporters write them, for tests: a PyTorch-style NCHW
 * image classifier that ends in logits, and models that ONNX Runtime must refuse.
 */
import onnxProto from 'onnx-proto';
import { cifarContract } from '../../src/preprocessing/contract.js';

const { onnx } = onnxProto;
type Dim = number | string;

function valueInfo(name: string, dims: Dim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } },
  };
}

function floats(name: string, dims: number[], values: number[]): onnxProto.onnx.ITensorProto {
  return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT, floatData: values };
}

interface GraphSpec {
  nodes: onnxProto.onnx.INodeProto[];
  initializers?: onnxProto.onnx.ITensorProto[];
  input: onnxProto.onnx.IValueInfoProto;
  output: onnxProto.onnx.IValueInfoProto;
  opset?: number;
}

export function encodeModel(g: GraphSpec): Buffer {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'pytorch',
    producerVersion: '2.5.0',
    opsetImport: [{ domain: '', version: g.opset ?? 17 }],
    graph: { name: 'main_graph', node: g.nodes, initializer: g.initializers ?? [], input: [g.input], output: [g.output] },
  });
  return Buffer.from(onnx.ModelProto.encode(model).finish());
}

/**
 * An NCHW classifier of the dominant colour, as `torch.onnx.export` writes one with a dynamic
 * batch axis: input `pixel_values` [batch, 3, 32, 32], a 1×1 convolution (×4 per channel),
 * global average pooling, flatten, and a linear layer to `logits` [batch, 3] (red, green,
 * blue). Fed NHWC data by mistake, every "channel" would average the same mix of colours.
 */
export function colourClassifier(opts: { batch?: Dim } = {}): Buffer {
  const batch = opts.batch ?? 'batch_size';
  const identity = (n: number, scale: number): number[] => Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? scale : 0));
  return encodeModel({
    input: valueInfo('pixel_values', [batch, 3, 32, 32]),
    output: valueInfo('logits', [batch, 3]),
    initializers: [floats('conv.weight', [3, 3, 1, 1], identity(3, 4)), floats('conv.bias', [3], [0, 0, 0]), floats('fc.weight', [3, 3], identity(3, 1)), floats('fc.bias', [3], [0, 0, 0])],
    nodes: [
      { opType: 'Conv', input: ['pixel_values', 'conv.weight', 'conv.bias'], output: ['/conv/Conv_output_0'], name: '/conv/Conv', attribute: [{ name: 'kernel_shape', type: onnx.AttributeProto.AttributeType.INTS, ints: [1, 1] }] },
      { opType: 'Relu', input: ['/conv/Conv_output_0'], output: ['/relu/Relu_output_0'], name: '/relu/Relu' },
      { opType: 'GlobalAveragePool', input: ['/relu/Relu_output_0'], output: ['/pool/GlobalAveragePool_output_0'], name: '/pool/GlobalAveragePool' },
      { opType: 'Flatten', input: ['/pool/GlobalAveragePool_output_0'], output: ['/Flatten_output_0'], name: '/Flatten', attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 }] },
      { opType: 'Gemm', input: ['/Flatten_output_0', 'fc.weight', 'fc.bias'], output: ['logits'], name: '/fc/Gemm', attribute: [{ name: 'transB', type: onnx.AttributeProto.AttributeType.INT, i: 1 }] },
    ],
  });
}

/** metadata.json for colourClassifier(): NCHW, named tensors, softmax over the logits. */
export function colourMetadata(): Record<string, unknown> {
  return {
    kind: 'image-classifier',
    description: 'dominant colour, exported from PyTorch',
    labels: ['red', 'green', 'blue'],
    inputShape: [32, 32, 3],
    output: 'probabilities',
    // The CIFAR-10 contract with ImageNet's mean and std, in PyTorch's planar layout.
    preprocessing: { ...cifarContract([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]), layout: 'NCHW' },
    parameters: 24,
    multiplyAdds: 3 * 3 * 32 * 32 + 9,
    onnx: { file: 'model.onnx', input: 'pixel_values', output: 'logits', outputTransform: 'softmax' },
  };
}

/** A graph using an operator no runtime implements. */
export function unknownOperator(): Buffer {
  return encodeModel({
    input: valueInfo('image', ['N', 32, 32, 3]),
    output: valueInfo('probabilities', ['N', 10]),
    nodes: [{ opType: 'QuantumFourierTransform', input: ['image'], output: ['probabilities'], name: 'qft' }],
  });
}

/** A graph whose weight lives in a file beside the model, named by a path that leaves the folder. */
export function externalData(location: string): Buffer {
  return encodeModel({
    input: valueInfo('image', ['N', 32, 32, 3]),
    output: valueInfo('probabilities', ['N', 10]),
    initializers: [
      {
        name: 'w',
        dims: [3072, 10],
        dataType: onnx.TensorProto.DataType.FLOAT,
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: 'location', value: location },
          { key: 'length', value: String(3072 * 10 * 4) },
        ],
      },
    ],
    nodes: [
      { opType: 'Flatten', input: ['image'], output: ['flat'], name: 'flatten' },
      { opType: 'MatMul', input: ['flat', 'w'], output: ['probabilities'], name: 'matmul' },
    ],
  });
}
