/**
 * The seam between serving and the engines that run models. A runtime loads one model file
 * into a thread and runs packed batches: `n` inputs of `signature.inputShape` in, `n ×
 * signature.outputs` values out. What the numbers mean is the model kind's business; which
 * thread runs them is the pool's. Specs are plain data: they cross into worker threads.
 */

import type { FaultSpec } from './fault.js';

/** The shapes a loaded model must have: one input (without the batch axis), and its outputs. */
export interface ModelSignature {
  inputShape: number[];
  outputs: number;
}

export const RUNTIME_NAMES = ['tfjs', 'onnx'] as const;
export type RuntimeName = (typeof RUNTIME_NAMES)[number];
export const RUNTIME_CHOICES = ['auto', ...RUNTIME_NAMES] as const;
export type RuntimeChoice = (typeof RUNTIME_CHOICES)[number];

export interface TfjsSpec {
  runtime: 'tfjs';
  /** The version folder (model.json and its shards). */
  dir: string;
  signature: ModelSignature;
}

export interface OnnxSpec {
  runtime: 'onnx';
  /** The model.onnx file. */
  file: string;
  /** Shape of one input as the model takes it (NCHW images: [C, H, W]). */
  signature: ModelSignature;
  input?: string;
  output?: string;
  /** Apply softmax to the output (models that end in logits). */
  softmax: boolean;
  /** ONNX Runtime's intra-op threads for this session. */
  intraOpThreads: number;
}

/** What every spec may carry besides its runtime's fields. */
interface SpecCommon {
  /** Test-only fault injection (INFERENCE_FAULT_INJECTION): how this version fails. */
  fault?: FaultSpec;
  /** A classifier's calibration: its probabilities are answered as softmax(log p / temperature). */
  temperature?: number;
}

export type ModelSpec = (TfjsSpec | OnnxSpec) & SpecCommon;

/** A model loaded (and warmed) in one thread. */
export interface LoadedModel {
  /** Outputs (n × outputs) for `n` inputs packed one after another in `batch`. */
  run(batch: Float32Array, n: number): Promise<Float32Array>;
  /** Free the model (tensors, native session); idempotent. */
  dispose(): void;
}

/** Load `spec` in the calling thread with its runtime, warmed by `warmupRuns` batches. */
export async function loadModel(spec: ModelSpec, warmupRuns: number): Promise<LoadedModel> {
  if (spec.temperature !== undefined) {
    const { applyTemperature } = await import('../inference/calibration.js');
    const { temperature } = spec;
    const model = await loadModel({ ...spec, temperature: undefined }, warmupRuns);
    const classes = spec.signature.outputs;
    return { run: async (batch, n) => applyTemperature(await model.run(batch, n), classes, temperature), dispose: () => model.dispose() };
  }
  if (spec.fault) {
    const { withFault } = await import('./fault.js');
    return withFault(spec.fault, () => loadModel({ ...spec, fault: undefined }, warmupRuns));
  }
  if (spec.runtime === 'onnx') {
    const { OnnxModel } = await import('./onnx/model.js');
    return OnnxModel.load(spec, warmupRuns);
  }
  const { TfjsModel } = await import('./tfjs/tfjs-model.js');
  const model = await TfjsModel.load(spec.dir, spec.signature, warmupRuns);
  return { run: (batch, n) => model.predictPacked(batch, n), dispose: () => model.dispose() };
}
