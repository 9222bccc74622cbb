/**
 * What each model kind looks like through the Open Inference Protocol, Fastify-free: its
 * input and output tensors (for model metadata), and an inference request turned into the
 * serving use cases' inputs and their answers back into tensors.
 *
 *   image classifier    in:  image BYTES [N] (encoded files) or UINT8 [N, H, W, 3] (RGB pixels)
 *                       out: probabilities FP32 [N, C], label BYTES [N]
 *   tabular classifier  in:  features FP32 | FP64 [N, F], in the declared feature order
 *                       out: probabilities FP32 [N, C], label BYTES [N]
 *   tabular regressor   in:  features FP32 | FP64 [N, F]
 *                       out: prediction FP32 [N]
 */
import { ProblemError, tooLarge } from '../../http/problems.js';
import { argMax } from '../../inference/postprocess.js';
import type { ServedVersion } from '../../inference/served-version.js';
import { isTabular } from '../../kinds/metadata.js';
import { parseBase64 } from '../../preprocessing/base64.js';
import type { RuntimeName } from '../../runtimes/runtime.js';
import type { ImageInput, ImageModel, Predictor } from '../../serving/predictor.js';
import type { TabularModel, TabularPredictor } from '../../serving/tabular.js';
import { TensorError, type Datatype, type InputTensor, type OutputTensor, type ParsedRequest } from './tensors.js';

export interface TensorMetadata {
  name: string;
  datatype: Datatype;
  /** -1 for a dimension of any size (the batch). */
  shape: number[];
}

export interface ModelTensors {
  platform: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
  /** The protocol's free-form model properties (string values): kind, runtime, alternatives. */
  properties: Record<string, string>;
}

/** Platform names follow the protocol's `<project>_<format>`. */
const PLATFORMS: Record<RuntimeName, string> = { onnx: 'onnx_onnxv1', tfjs: 'tensorflowjs_layers' };

export const IMAGE_INPUT = 'image';
export const FEATURES_INPUT = 'features';

/** The tensors a served version takes and gives. */
export function modelTensors(model: ServedVersion): ModelTensors {
  const base = { platform: PLATFORMS[model.runtime], properties: { kind: model.metadata.kind, runtime: model.runtime, backend: model.backend } };
  const classes = model.labels.length;
  const classOutputs: TensorMetadata[] = [
    { name: 'probabilities', datatype: 'FP32', shape: [-1, classes] },
    { name: 'label', datatype: 'BYTES', shape: [-1] },
  ];
  const { metadata } = model;
  if (!isTabular(metadata)) {
    const { width, height } = metadata.preprocessing;
    return {
      ...base,
      inputs: [{ name: IMAGE_INPUT, datatype: 'BYTES', shape: [-1] }],
      outputs: classOutputs,
      properties: {
        ...base.properties,
        labels: model.labels.join(','),
        [`${IMAGE_INPUT}.accepts`]: `BYTES [-1] (encoded image files: ${'jpeg, png, webp, gif, tiff, avif'}) or UINT8 [-1, H, W, 3] (RGB pixels, resized to ${height}x${width} when they differ)`,
      },
    };
  }
  const features = metadata.features.map((f) => f.name);
  return {
    ...base,
    inputs: [{ name: FEATURES_INPUT, datatype: 'FP32', shape: [-1, features.length] }],
    outputs: metadata.kind === 'tabular-classifier' ? classOutputs : [{ name: 'prediction', datatype: 'FP32', shape: [-1] }],
    properties: {
      ...base.properties,
      features: features.join(','),
      [`${FEATURES_INPUT}.accepts`]: `FP32 or FP64 [-1, ${features.length}], in the order of 'features'`,
      ...(metadata.kind === 'tabular-classifier' ? { labels: metadata.labels.join(',') } : {}),
    },
  };
}

export interface InferDeps {
  predictor: Predictor;
  tabular: TabularPredictor;
  /** Inputs per request (MAX_BATCH_FILES), as for /predict/batch. */
  maxBatch: number;
}

export interface Inference {
  outputs: { tensor: OutputTensor; binary: boolean }[];
  /** Response parameters (out-of-range warnings of tabular rows). */
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

function batchSize(input: InputTensor, maxBatch: number): number {
  const n = input.shape[0] ?? 0;
  if (n === 0) throw new TensorError(`input '${input.name}' holds no ${input.name === IMAGE_INPUT ? 'images' : 'rows'} (its first dimension is 0)`);
  if (n > maxBatch) throw tooLarge(`input '${input.name}' holds ${n} ${input.name === IMAGE_INPUT ? 'images' : 'rows'}; at most ${maxBatch} per request (MAX_BATCH_FILES)`);
  return n;
}

/** A failed element fails the request (a V2 batch is one tensor), naming the element. */
function elementProblem(input: string, what: string, index: number, error: ProblemError): ProblemError {
  // The HTTP body's media type was fine: an image or row that cannot be used is a bad request.
  const status = error.status === 415 || error.status === 422 ? 400 : error.status;
  return new ProblemError(status, error.slug, `input '${input}' ${what} ${index}: ${error.message}`, error.headers, error.extensions);
}

function imageInputs(input: InputTensor, maxBatch: number): ImageInput[] {
  if (input.datatype === 'BYTES') {
    if (input.shape.length !== 1) throw new TensorError(`input '${input.name}' is BYTES: its shape must be [N] (one encoded image file per element), got [${input.shape.join(', ')}]`);
    batchSize(input, maxBatch);
    return input.elements.map((e, i): ImageInput => {
      if (typeof e !== 'string') return { bytes: e, filename: null };
      // JSON cannot carry raw bytes: an image in JSON is base64 text.
      const bytes = parseBase64(e);
      if (!bytes) return { bytes: new Uint8Array(0), filename: null, problem: new ProblemError(400, 'invalid-base64', `element ${i} is not valid base64 (BYTES images in JSON are base64 text)`) };
      return { bytes, filename: null };
    });
  }
  if (input.datatype === 'UINT8') {
    const [, height = 0, width = 0, channels] = input.shape;
    if (input.shape.length !== 4 || channels !== 3 || height === 0 || width === 0) {
      throw new TensorError(`input '${input.name}' is UINT8: its shape must be [N, H, W, 3] (RGB pixels, row-major), got [${input.shape.join(', ')}]`);
    }
    const n = batchSize(input, maxBatch);
    const size = height * width * 3;
    const values = input.values as Uint8Array;
    return Array.from({ length: n }, (_, i) => ({ bytes: values.subarray(i * size, (i + 1) * size), filename: null, pixels: { width, height } }));
  }
  throw new TensorError(`input '${input.name}' has datatype ${input.datatype}; send BYTES [N] (encoded image files) or UINT8 [N, H, W, 3] (RGB pixels)`);
}

function classOutputs(labels: readonly string[], rows: readonly Float32Array[]): Record<string, OutputTensor> {
  const classes = labels.length;
  const probabilities = new Float32Array(rows.length * classes);
  rows.forEach((p, i) => probabilities.set(p, i * classes));
  return {
    probabilities: { name: 'probabilities', datatype: 'FP32', shape: [rows.length, classes], values: probabilities },
    label: { name: 'label', datatype: 'BYTES', shape: [rows.length], elements: rows.map((p) => labels[argMax(p)]!) },
  };
}

async function inferImages(model: ImageModel, input: InputTensor, deps: InferDeps): Promise<Record<string, OutputTensor>> {
  const outcomes = await deps.predictor.infer(model, imageInputs(input, deps.maxBatch));
  const rows = outcomes.map((o, i) => {
    if (!o.ok) throw elementProblem(input.name, 'image', i, o.error);
    return o.value.probabilities;
  });
  return classOutputs(model.labels, rows);
}

async function inferRows(model: TabularModel, input: InputTensor, deps: InferDeps): Promise<{ tensors: Record<string, OutputTensor>; warnings: string[] }> {
  const features = model.metadata.features.length;
  if (input.datatype !== 'FP32' && input.datatype !== 'FP64') throw new TensorError(`input '${input.name}' has datatype ${input.datatype}; send FP32 or FP64 [N, ${features}]`);
  if (input.shape.length !== 2 || input.shape[1] !== features) {
    throw new TensorError(`input '${input.name}' must have shape [N, ${features}] (${model.metadata.features.map((f) => f.name).join(', ')}), got [${input.shape.join(', ')}]`);
  }
  const n = batchSize(input, deps.maxBatch);
  const rows = Array.from({ length: n }, (_, i) => Array.from(input.values.subarray(i * features, (i + 1) * features)));
  const outcomes = await deps.tabular.infer(model, rows);
  const outputs = outcomes.map((o, i) => {
    if (!o.ok) throw elementProblem(input.name, 'row', i, o.error);
    return o.value;
  });
  const warnings = outputs.flatMap((o, i) => o.warnings.map((w) => `row ${i}: ${w}`));
  if (model.metadata.kind === 'tabular-classifier') return { tensors: classOutputs(model.metadata.labels, outputs.map((o) => o.output)), warnings };
  const prediction = Float32Array.from(outputs, (o) => o.output[0]!);
  return { tensors: { prediction: { name: 'prediction', datatype: 'FP32', shape: [n], values: prediction } }, warnings };
}

/** Run one inference request on a served version: its inputs checked, its outputs selected. */
export async function inferTensors(model: ServedVersion, request: ParsedRequest, deps: InferDeps): Promise<Inference> {
  const { inputs, outputs } = modelTensors(model);
  const wanted = selectOutputs(request, outputs.map((o) => o.name), model.name);
  const input = soleInput(request, inputs[0]!.name, model.name);
  let tensors: Record<string, OutputTensor>;
  let warnings: string[] = [];
  if (isTabular(model.metadata)) ({ tensors, warnings } = await inferRows(model as TabularModel, input, deps));
  else tensors = await inferImages(model as ImageModel, input, deps);
  return {
    outputs: wanted.map((w) => ({ tensor: tensors[w.name]!, binary: w.binary })),
    ...(warnings.length > 0 ? { parameters: { warnings: warnings.join('; ') } } : {}),
  };
}
