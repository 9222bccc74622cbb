/** The Open Inference Protocol's tensor codec alone: every datatype in JSON and binary, and the response layout. */
import { describe, expect, it } from 'vitest';
import { encodeInferenceResponse, parseInferenceRequest, TensorError, type InputTensor } from '../../src/protocols/open-inference/tensors.js';

function binaryRequest(inputs: { name: string; datatype: string; shape: number[]; bytes: Buffer }[], pad = 0): { body: Buffer; header: string } {
  const json = Buffer.from(JSON.stringify({ inputs: inputs.map(({ bytes, ...i }) => ({ ...i, parameters: { binary_data_size: bytes.length } })) }) + ' '.repeat(pad));
  return { body: Buffer.concat([json, ...inputs.map((i) => i.bytes)]), header: String(json.length) };
}

const values = (t: InputTensor): number[] => ('values' in t ? Array.from(t.values) : []);

describe('Open Inference Protocol tensors', () => {
  it('reads every numeric datatype from JSON, range-checked, and BOOL from booleans', () => {
    const request = parseInferenceRequest(
      {
        inputs: [
          { name: 'a', datatype: 'INT8', shape: [2], data: [-128, 127] },
          { name: 'b', datatype: 'UINT16', shape: [1, 2], data: [[0, 65535]] },
          { name: 'c', datatype: 'INT64', shape: [1], data: [Number.MAX_SAFE_INTEGER] },
          { name: 'd', datatype: 'BOOL', shape: [3], data: [true, false, true] },
          { name: 'e', datatype: 'FP32', shape: [2], data: [0.5, -1.25] },
          { name: 'f', datatype: 'FP64', shape: [0], data: [] },
        ],
      },
      undefined,
    );
    expect(request.inputs.map(values)).toEqual([[-128, 127], [0, 65535], [Number.MAX_SAFE_INTEGER], [1, 0, 1], [0.5, -1.25], []]);
    expect(() => parseInferenceRequest({ inputs: [{ name: 'a', datatype: 'INT8', shape: [1], data: [128] }] }, undefined)).toThrow(/element 0 \(128\) is not an integer in -128\.\.127/);
    expect(() => parseInferenceRequest({ inputs: [{ name: 'a', datatype: 'UINT8', shape: [1], data: [1.5] }] }, undefined)).toThrow(TensorError);
    expect(() => parseInferenceRequest({ inputs: [{ name: 'a', datatype: 'BOOL', shape: [1], data: [1] }] }, undefined)).toThrow(/must be true or false/);
    expect(() => parseInferenceRequest({ inputs: [{ name: 'a', datatype: 'FP16', shape: [1], data: [1] }] }, undefined)).toThrow(/send it as binary data/);
    expect(() => parseInferenceRequest({ inputs: [{ name: 'a', datatype: 'FP32', shape: [1], data: [1] }, { name: 'a', datatype: 'FP32', shape: [1], data: [1] }] }, undefined)).toThrow(/given twice/);
    expect(() => parseInferenceRequest({ inputs: [{ name: 'a', datatype: 'FP32', shape: [2], data: [[[1]], 2] }] }, undefined)).toThrow(/nested deeper than its shape/);
  });

  it('reads binary data little-endian whatever its alignment in the body, INT64 exactly', () => {
    const fp32 = Buffer.alloc(8);
    fp32.writeFloatLE(1.5, 0);
    fp32.writeFloatLE(-2, 4);
    const i64 = Buffer.alloc(16);
    i64.writeBigInt64LE(-5n, 0);
    i64.writeBigInt64LE(2n ** 40n, 8);
    const bools = Buffer.from([1, 0]);
    for (const pad of [0, 1, 3]) {
      const { body, header } = binaryRequest(
        [
          { name: 'x', datatype: 'FP32', shape: [2], bytes: fp32 },
          { name: 'y', datatype: 'INT64', shape: [2], bytes: i64 },
          { name: 'z', datatype: 'BOOL', shape: [2], bytes: bools },
        ],
        pad,
      );
      expect(parseInferenceRequest(body, header).inputs.map(values)).toEqual([[1.5, -2], [-5, 2 ** 40], [1, 0]]);
    }
    const big = Buffer.alloc(8);
    big.writeBigUInt64LE(2n ** 60n);
    const { body, header } = binaryRequest([{ name: 'u', datatype: 'UINT64', shape: [1], bytes: big }]);
    expect(() => parseInferenceRequest(body, header)).toThrow(/outside the exactly representable integers/);
  });

  it('writes JSON outputs, or a JSON header and the binary outputs in order', () => {
    const probabilities = { name: 'probabilities', datatype: 'FP32' as const, shape: [1, 2], values: Float32Array.from([0.25, 0.75]) };
    const label = { name: 'label', datatype: 'BYTES' as const, shape: [1], elements: ['dog'] };
    const json = encodeInferenceResponse({ model_name: 'm', model_version: '1', id: '7' }, [
      { tensor: probabilities, binary: false },
      { tensor: label, binary: false },
    ]);
    expect(json).toEqual({
      kind: 'json',
      body: { model_name: 'm', model_version: '1', id: '7', outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [1, 2], data: [0.25, 0.75] }, { name: 'label', datatype: 'BYTES', shape: [1], data: ['dog'] }] },
    });
    const binary = encodeInferenceResponse({ model_name: 'm', model_version: '1' }, [
      { tensor: probabilities, binary: true },
      { tensor: label, binary: true },
    ]);
    if (binary.kind !== 'binary') throw new Error('expected a binary response');
    const head = JSON.parse(binary.body.subarray(0, binary.headerLength).toString()) as { outputs: { parameters: { binary_data_size: number } }[] };
    expect(head.outputs.map((o) => o.parameters.binary_data_size)).toEqual([8, 7]);
    const tail = binary.body.subarray(binary.headerLength);
    expect([tail.readFloatLE(0), tail.readFloatLE(4), tail.readUInt32LE(8), tail.subarray(12).toString()]).toEqual([0.25, 0.75, 3, 'dog']);
  });
});
