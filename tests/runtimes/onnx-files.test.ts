/** The ONNX file check reads the wire format alone: it must find an external tensor wherever protobuf would. */
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { scanOnnxModel } from '../../src/runtimes/onnx/files.js';

const { onnx } = onnxProto;
const EXTERNAL = onnx.TensorProto.DataLocation.EXTERNAL;
const tensor = (external: boolean): onnxProto.onnx.ITensorProto => ({ name: 'w', dims: [2], dataType: onnx.TensorProto.DataType.FLOAT, ...(external ? { dataLocation: EXTERNAL, externalData: [{ key: 'location', value: '/etc/passwd' }] } : { floatData: [1, 2] }) });
const node = (attribute: onnxProto.onnx.IAttributeProto[] = []): onnxProto.onnx.INodeProto => ({ opType: 'Identity', input: ['x'], output: ['y'], attribute });
const model = (graph: onnxProto.onnx.IGraphProto): Buffer => Buffer.from(onnx.ModelProto.encode({ irVersion: 8, graph }).finish());
const nested = (depth: number, leaf: onnxProto.onnx.IGraphProto): onnxProto.onnx.IGraphProto => (depth === 0 ? leaf : { node: [node([{ name: 'then_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: nested(depth - 1, leaf) }])] });

describe('scanOnnxModel', () => {
  it('counts the nodes of a plain model and finds nothing external', () => {
    expect(scanOnnxModel(model({ node: [node(), node()], initializer: [tensor(false)] }))).toEqual({ nodes: 2, external: false });
  });

  it.each([
    ['an initializer', { node: [node()], initializer: [tensor(true)] }],
    ['a data_location alone', { node: [node()], initializer: [{ name: 'w', dataLocation: EXTERNAL }] }],
    ['a sparse initializer', { node: [node()], sparseInitializer: [{ values: tensor(true), indices: tensor(false) }] }],
    ['a Constant attribute', { node: [node([{ name: 'value', t: tensor(true) }])] }],
    ['an attribute list of tensors', { node: [node([{ name: 'values', tensors: [tensor(false), tensor(true)] }])] }],
    ['a sparse attribute', { node: [node([{ name: 'sparse_value', sparseTensor: { values: tensor(false), indices: tensor(true) } }])] }],
    ['a subgraph five levels down', nested(5, { node: [node()], initializer: [tensor(true)] })],
    ['one of the graphs of a Loop', { node: [node([{ name: 'bodies', graphs: [{ node: [node()] }, { node: [node()], initializer: [tensor(true)] }] }])] }],
  ])('finds an external tensor in %s', (_, graph) => {
    expect(scanOnnxModel(model(graph as onnxProto.onnx.IGraphProto)).external).toBe(true);
  });

  it('checks a graph given twice, as protobuf merges them', () => {
    const twice = Buffer.concat([model({ node: [node()] }), model({ node: [node()], initializer: [tensor(true)] })]);
    expect(scanOnnxModel(twice)).toEqual({ nodes: 2, external: true });
  });

  it('refuses subgraphs nested deeper than 32', () => {
    expect(() => scanOnnxModel(model(nested(40, { node: [node()] })))).toThrow(/deeper than 32/);
  });

  it('refuses what does not parse: a truncation, a JPEG, an overlong varint, a length past the end', () => {
    const good = model({ node: [node()], initializer: [tensor(false)] });
    expect(() => scanOnnxModel(good.subarray(0, good.length - 3))).toThrow(/past the end|truncated/);
    expect(() => scanOnnxModel(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10]))).toThrow(/wire type|truncated/);
    expect(() => scanOnnxModel(Buffer.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))).toThrow(/longer than 10 bytes/);
    expect(() => scanOnnxModel(Buffer.from([0x3a, 0x7f, 0x0a]))).toThrow(/past the end/);
  });

  it('agrees with protobufjs on the bundled models', async () => {
    const { readFileSync } = await import('node:fs');
    for (const name of ['cifar10', 'iris', 'spam', 'wine-quality']) {
      const buf = readFileSync(new URL(`../../models/${name}/1/model.onnx`, import.meta.url));
      expect(scanOnnxModel(buf), name).toEqual({ nodes: onnx.ModelProto.decode(buf).graph!.node!.length, external: false });
    }
  });
});
