/**
 * A served version through the Open Inference Protocol, Fastify-free and kind-blind: its
 * metadata (the tensors its kind maps), and an inference request run through the dataplane.
 * The kind turns the request tensor into inputs and the outputs back into tensors.
 */
import type { ServedVersion } from '../../inference/served-version.js';
import type { RuntimeName } from '../../runtimes/runtime.js';
import type { Exchange } from '../../serving/dataplane.js';
import { tooLarge } from '../../serving/errors.js';
import { TensorError, type InputTensor, type OutputTensor, type ParsedRequest, type TensorMetadata } from './tensors.js';

export interface ModelTensors {
  platform: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
  /** The protocol's free-form model properties (string values): kind, runtime, alternatives. */
  properties: Record<string, string>;
}

/** Platform names follow the protocol's `<project>_<format>`. */
const PLATFORMS: Record<RuntimeName, string> = { onnx: 'onnx_onnxv1', tfjs: 'tensorflowjs_layers' };

/** The tensors a served version takes and gives. */
export function modelTensors(model: ServedVersion): ModelTensors {
  const mapping = model.kind.openInference;
  return {
    platform: PLATFORMS[model.runtime],
    inputs: mapping.inputs,
    outputs: mapping.outputs,
    properties: { kind: model.kind.kind, runtime: model.runtime, backend: model.backend, ...mapping.properties },
  };
}

export interface Inference {
  outputs: { tensor: OutputTensor; binary: boolean }[];
  /** Response parameters (warnings of inputs, e.g. values outside the training range). */
  parameters?: Record<string, string>;
}

/** The one input a model takes, by name; anything else is refused naming what is expected. */
function soleInput(request: ParsedRequest, expected: string, modelName: string): InputTensor {
  for (const input of request.inputs) {
    if (input.name !== expected) throw new TensorError(`unknown input '${input.name}'; model '${modelName}' takes one input, '${expected}'`);
  }
  const input = request.inputs[0];
  if (!input) throw new TensorError(`model '${modelName}' needs the input '${expected}'`);
  return input;
}

/** The outputs to return, checked against what the model gives before anything runs. */
function selectOutputs(request: ParsedRequest, available: readonly string[], modelName: string): { name: string; binary: boolean }[] {
  if (!request.outputs || request.outputs.length === 0) return available.map((name) => ({ name, binary: request.binaryByDefault }));
  const seen = new Set<string>();
  for (const o of request.outputs) {
    if (!available.includes(o.name)) throw new TensorError(`unknown output '${o.name}'; model '${modelName}' gives ${available.map((a) => `'${a}'`).join(', ')}`);
    if (seen.has(o.name)) throw new TensorError(`output '${o.name}' is requested twice`);
    seen.add(o.name);
  }
  return request.outputs;
}

/**
 * Run one inference request on the exchange's version: its input checked and decoded by the
 * kind, run through the dataplane, its outputs selected. A failed element fails the request
 * (a V2 batch is one tensor), naming the element. Inputs still queued when `signal` aborts
 * are dropped unrun.
 */
export async function inferTensors(exchange: Exchange, request: ParsedRequest, maxBatch: number, signal?: AbortSignal): Promise<Inference> {
  const model = exchange.model;
  const mapping = model.kind.openInference;
  const wanted = selectOutputs(request, mapping.outputs.map((o) => o.name), model.name);
  const input = soleInput(request, mapping.inputs[0]!.name, model.name);
  const inputs = mapping.decode(input);
  const n = input.shape[0] ?? 0;
  if (n === 0) throw new TensorError(`input '${input.name}' holds no ${mapping.items} (its first dimension is 0)`);
  if (n > maxBatch) throw tooLarge(`input '${input.name}' holds ${n} ${mapping.items}; at most ${maxBatch} per request (MAX_BATCH_FILES)`);
  const outcomes = await exchange.infer(inputs, signal);
  const item = mapping.items.replace(/s$/, '');
  const results = outcomes.map((o, i) => {
    if (!o.ok) throw o.error.within(`input '${input.name}' ${item} ${i}: `);
    return o.value;
  });
  const tensors = mapping.encode(results.map((r) => r.output));
  const warnings = results.flatMap((r, i) => r.warnings.map((w) => `${item} ${i}: ${w}`));
  return {
    outputs: wanted.map((w) => ({ tensor: tensors[w.name]!, binary: w.binary })),
    ...(warnings.length > 0 ? { parameters: { warnings: warnings.join('; ') } } : {}),
  };
}
