/** Reflection's descriptors as protoc writes them: map entries `<Field>Entry`, type references fully qualified. */
import { join } from 'node:path';
import { loadSync } from '@grpc/proto-loader';
import descriptor, { type IDescriptorProto, type IFileDescriptorProto } from 'protobufjs/ext/descriptor/index.js';
import { describe, expect, it } from 'vitest';
import { mapEntryName, reflectionDefinition } from '../../src/protocols/open-inference/grpc-reflection.js';
import { GRPC_LOADER_OPTIONS } from '../../src/protocols/open-inference/grpc-tensors.js';
import { ROOT } from '../helpers/app.js';

const fileOf = (definition: ReturnType<typeof loadSync>, symbol: string): IFileDescriptorProto => {
  const entry = definition[symbol] as { fileDescriptorProtos: Buffer[] };
  return descriptor.FileDescriptorProto.toObject(descriptor.FileDescriptorProto.decode(entry.fileDescriptorProtos[0]!)) as IFileDescriptorProto;
};
const message = (file: IFileDescriptorProto, ...path: string[]): IDescriptorProto =>
  path.slice(1).reduce((m, name) => m.nestedType!.find((n) => n.name === name)!, file.messageType!.find((m) => m.name === path[0])!);

describe('reflection descriptors', () => {
  it("names map entries as protoc does", () => {
    expect(mapEntryName('parameters')).toBe('ParametersEntry');
    expect(mapEntryName('raw_input_contents')).toBe('RawInputContentsEntry');
  });

  it("rewrites the loader's descriptors: entries renamed, references qualified, nothing else changed", () => {
    const loaded = loadSync(join(ROOT, 'specs', 'open-inference-protocol', 'open_inference_grpc.proto'), GRPC_LOADER_OPTIONS);
    const before = fileOf(loaded, 'inference.ModelInferRequest');
    expect(message(before, 'ModelInferRequest', 'InferInputTensor').field!.find((f) => f.name === 'parameters')!.typeName).toBe('Parameters');
    const after = fileOf(reflectionDefinition(loaded), 'inference.ModelInferRequest');
    const tensor = message(after, 'ModelInferRequest', 'InferInputTensor');
    expect(tensor.field!.find((f) => f.name === 'parameters')!.typeName).toBe('.inference.ModelInferRequest.InferInputTensor.ParametersEntry');
    expect(tensor.field!.find((f) => f.name === 'contents')!.typeName).toBe('.inference.InferTensorContents');
    const entry = message(after, 'ModelInferRequest', 'InferInputTensor', 'ParametersEntry');
    expect(entry.options).toEqual({ mapEntry: true });
    expect(entry.field!.find((f) => f.name === 'value')!.typeName).toBe('.inference.InferParameter');
    const infer = after.service![0]!.method!.find((m) => m.name === 'ModelInfer')!;
    expect([infer.inputType, infer.outputType]).toEqual(['.inference.ModelInferRequest', '.inference.ModelInferResponse']);
    expect(after.messageType!.map((m) => m.name)).toEqual(before.messageType!.map((m) => m.name));
  });
});
