/**
 * The gRPC side of the Open Inference Protocol, message level: requests encoded on the wire
 * from the official .proto, decoded as the server will decode them, and read into the same
 * tensors as REST; responses encoded and decoded back.
 */
import { join } from 'node:path';
import { loadSync, type MethodDefinition } from '@grpc/proto-loader';
import { describe, expect, it } from 'vitest';
import { encodeGrpcInferResponse, GRPC_LOADER_OPTIONS, parseGrpcInferRequest, type GrpcInferRequest, type GrpcInferResponse } from '../../src/protocols/open-inference/grpc-tensors.js';
import { TensorError, type InputTensor } from '../../src/protocols/open-inference/tensors.js';
import { serializeBytes } from '../helpers/open-inference.js';

const PROTO = join(import.meta.dirname, '..', '..', 'specs', 'open-inference-protocol', 'open_inference_grpc.proto');
const definition = loadSync(PROTO, GRPC_LOADER_OPTIONS);
const service = definition['inference.GRPCInferenceService'] as Record<string, MethodDefinition<unknown, unknown>>;
const infer = service.ModelInfer! as MethodDefinition<Record<string, unknown>, Record<string, unknown>>;

/** What the server receives for `message`, after the wire. */
const received = (message: Record<string, unknown>): GrpcInferRequest => infer.requestDeserialize(infer.requestSerialize(message)) as unknown as GrpcInferRequest;
const parse = (message: Record<string, unknown>): InputTensor[] => parseGrpcInferRequest(received(message)).inputs;
const refusal = (message: Record<string, unknown>): string => {
  try {
    parseGrpcInferRequest(received(message));
  } catch (err) {
    if (err instanceof TensorError) return err.message;
    throw err;
  }
  throw new Error('accepted');
};
const values = (t: InputTensor | undefined): number[] => Array.from(t && 'values' in t ? t.values : []);
const lengthPrefixed = (...items: Buffer[]): Buffer => serializeBytes(items);

describe('Open Inference Protocol over gRPC: messages', () => {
  it('the official .proto loads with the six inference RPCs', () => {
    expect(Object.keys(service).sort()).toEqual(['ModelInfer', 'ModelMetadata', 'ModelReady', 'ServerLive', 'ServerMetadata', 'ServerReady']);
  });

  it('typed contents and raw contents read to the same tensors: UINT8 pixels, FP64 and INT64 values, BYTES', () => {
    const pixels = Uint8Array.from({ length: 12 }, (_, i) => i * 20);
    const typed = parse({ model_name: 'm', inputs: [{ name: 'image', datatype: 'UINT8', shape: [1, 2, 2, 3], contents: { uint_contents: Array.from(pixels) } }] });
    const raw = parse({ model_name: 'm', inputs: [{ name: 'image', datatype: 'UINT8', shape: [1, 2, 2, 3] }], raw_input_contents: [Buffer.from(pixels)] });
    expect(typed[0]).toMatchObject({ name: 'image', datatype: 'UINT8', shape: [1, 2, 2, 3] });
    expect(values(typed[0])).toEqual(Array.from(pixels));
    expect(values(raw[0])).toEqual(Array.from(pixels));

    const row = [5.1, 3.5, 1.4, 0.2];
    expect(values(parse({ inputs: [{ name: 'features', datatype: 'FP64', shape: [1, 4], contents: { fp64_contents: row } }] })[0])).toEqual(row);
    expect(values(parse({ inputs: [{ name: 'features', datatype: 'FP64', shape: [1, 4] }], raw_input_contents: [Buffer.from(Float64Array.from(row).buffer)] })[0])).toEqual(row);
    expect(values(parse({ inputs: [{ name: 'x', datatype: 'INT64', shape: [2], contents: { int64_contents: [-7, 9007199254740991] } }] })[0])).toEqual([-7, 9007199254740991]);

    const files = [Buffer.from('first file'), Buffer.from([0, 255, 1])];
    const bytesTyped = parse({ inputs: [{ name: 'image', datatype: 'BYTES', shape: [2], contents: { bytes_contents: files } }] })[0]!;
    const bytesRaw = parse({ inputs: [{ name: 'image', datatype: 'BYTES', shape: [2] }], raw_input_contents: [lengthPrefixed(...files)] })[0]!;
    for (const t of [bytesTyped, bytesRaw]) expect('elements' in t && t.elements.map((e) => Buffer.from(e).toString('hex'))).toEqual(files.map((f) => f.toString('hex')));
  });

  it('keeps the id and parameters, and asks for the named outputs as raw bytes', () => {
    const parsed = parseGrpcInferRequest(
      received({
        id: 'req-7',
        parameters: { note: { string_param: 'x' }, n: { int64_param: 3 }, flag: { bool_param: true }, ratio: { double_param: 0.5 } },
        inputs: [{ name: 'image', datatype: 'UINT8', shape: [1, 1, 1, 3], contents: { uint_contents: [1, 2, 3] } }],
        outputs: [{ name: 'label' }],
      }),
    );
    expect(parsed).toMatchObject({ id: 'req-7', parameters: { note: 'x', n: 3, flag: true, ratio: 0.5 }, outputs: [{ name: 'label', binary: true }] });
    expect(parseGrpcInferRequest(received({ inputs: [{ name: 'a', datatype: 'BOOL', shape: [1], contents: { bool_contents: [true] } }] }))).toMatchObject({ outputs: undefined });
    expect(parseGrpcInferRequest(received({ inputs: [{ name: 'a', datatype: 'BOOL', shape: [1], contents: { bool_contents: [true] } }] })).id).toBeUndefined();
  });

  it('refuses what does not add up, naming the input', () => {
    const input = { name: 'image', datatype: 'UINT8', shape: [1, 2, 2, 3] };
    expect(refusal({ inputs: [] })).toBe('the request has no inputs');
    expect(refusal({ inputs: [input], raw_input_contents: [Buffer.alloc(11)] })).toMatch(/binary_data_size is 11 bytes, but shape \[1, 2, 2, 3\] of UINT8 needs 12/);
    expect(refusal({ inputs: [input, { ...input, name: 'other' }], raw_input_contents: [Buffer.alloc(12)] })).toMatch(/raw_input_contents holds 1 entries for 2 inputs/);
    expect(refusal({ inputs: [{ ...input, contents: { uint_contents: [1] } }], raw_input_contents: [Buffer.alloc(12)] })).toMatch(/has contents while the request uses raw_input_contents/);
    expect(refusal({ inputs: [{ ...input, contents: { fp32_contents: Array(12).fill(1) } }] })).toMatch(/its elements go in contents.uint_contents, not contents.fp32_contents/);
    expect(refusal({ inputs: [{ ...input, contents: { uint_contents: Array(11).fill(1) } }] })).toMatch(/holds 11/);
    expect(refusal({ inputs: [{ ...input, contents: { uint_contents: [...Array(11).fill(1), 256] } }] })).toMatch(/not an integer in 0..255/);
    expect(refusal({ inputs: [{ name: 'image', datatype: 'BYTES', shape: [1] }], raw_input_contents: [Buffer.from([9, 0])] })).toMatch(/truncated 4-byte length prefix/);
    expect(refusal({ inputs: [{ name: 'image', datatype: 'BYTES', shape: [1] }], raw_input_contents: [Buffer.from([9, 0, 0, 0, 1])] })).toMatch(/declares 9 bytes, past the end/);
    expect(refusal({ inputs: [{ name: 'h', datatype: 'FP16', shape: [1], contents: {} }] })).toMatch(/send it in raw_input_contents/);
    expect(refusal({ inputs: [{ ...input, shape: ['9007199254740993'] }] })).toMatch(/outside the exactly representable integers/);
    expect(refusal({ inputs: [{ ...input, shape: [-1] }] })).toMatch(/dimensions are not negative/);
    const full = { ...input, contents: { uint_contents: Array(12).fill(1) } };
    expect(refusal({ inputs: [full, full] })).toMatch(/is given twice/);
    expect(refusal({ inputs: [{ ...input, datatype: 'COMPLEX' }] })).toMatch(/unknown datatype 'COMPLEX'/);
  });

  it('answers every output as raw little-endian bytes, BYTES length-prefixed, through the wire', () => {
    const probabilities = Float32Array.from([0.25, 0.75, 0.5, 0.5]);
    const response = encodeGrpcInferResponse({ model_name: 'cifar10', model_version: '1', id: 'r', parameters: { warnings: 'w', n: 2 } }, [
      { tensor: { name: 'probabilities', datatype: 'FP32', shape: [2, 2], values: probabilities } },
      { tensor: { name: 'label', datatype: 'BYTES', shape: [2], elements: ['cat', 'ñ'] } },
    ]);
    const back = infer.responseDeserialize(infer.responseSerialize(response as unknown as Record<string, unknown>)) as unknown as GrpcInferResponse;
    expect(back).toMatchObject({ model_name: 'cifar10', model_version: '1', id: 'r', outputs: [{ name: 'probabilities', datatype: 'FP32', shape: ['2', '2'] }, { name: 'label', datatype: 'BYTES', shape: ['2'] }] });
    expect(back.parameters).toMatchObject({ warnings: { string_param: 'w' }, n: { int64_param: '2' } });
    const raw = back.raw_output_contents;
    expect(Array.from(new Float32Array(Uint8Array.from(raw[0]!).buffer))).toEqual(Array.from(probabilities));
    expect(Buffer.from(raw[1]!).equals(lengthPrefixed(Buffer.from('cat'), Buffer.from('ñ')))).toBe(true);
  });
});
