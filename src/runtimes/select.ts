/**
 * Which runtime serves a version, from the files its folder holds: `model.json` (+ shards)
 * for TensorFlow.js, `model.onnx` (or metadata.json `onnx.file`) for ONNX Runtime. With both,
 * INFERENCE_RUNTIME decides; `auto` takes ONNX Runtime, which ran the same CIFAR-10 weights
 * 5× faster than TF.js on wasm on this hardware (README, "Performance").
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { checkTfjsFiles, VersionFilesError } from '../repository/version-files.js';
import { readFault } from './fault.js';
import { checkOnnxFile } from './onnx/files.js';
import { ONNX_FILE } from './onnx/metadata.js';
import type { OnnxSection } from './onnx/metadata.js';
import type { ModelSignature, ModelSpec, RuntimeChoice, RuntimeName } from './runtime.js';

export interface RuntimeOptions {
  choice: RuntimeChoice;
  /** ONNX Runtime intra-op threads per session. */
  onnxThreads: number;
  /** Honour a version's fault.json (INFERENCE_FAULT_INJECTION: tests and drills only). */
  faultInjection?: boolean;
}

const isFile = async (path: string): Promise<boolean> => (await stat(path).catch(() => undefined))?.isFile() ?? false;

/** The runtime for a folder holding TF.js files, ONNX files, or both. */
export function chooseRuntime(has: { tfjs: boolean; onnx: boolean }, choice: RuntimeChoice): RuntimeName {
  if (has.tfjs && has.onnx) return choice === 'tfjs' ? 'tfjs' : 'onnx';
  if (has.onnx) return 'onnx';
  return 'tfjs';
}

/** What a model's kind asks of the runtime: its ONNX section, and a runtime only it can be served by (and why). */
export interface RuntimeNeeds {
  onnx?: OnnxSection;
  only?: { runtime: RuntimeName; why: string };
  /** A classifier's calibration temperature: its probabilities are answered scaled by it. */
  temperature?: number;
}

/**
 * Check the files of the runtime that will serve `dir` and say how to load them. `signature`
 * is the model's input as its kind prepares it.
 */
export async function runtimeSpec(dir: string, needs: RuntimeNeeds, signature: ModelSignature, maxBytes: number, opts: RuntimeOptions): Promise<ModelSpec> {
  const spec = await filesSpec(dir, needs, signature, maxBytes, opts);
  const fault = opts.faultInjection ? await readFault(dir) : undefined;
  return { ...spec, ...(fault && { fault }), ...(needs.temperature !== undefined && needs.temperature !== 1 && { temperature: needs.temperature }) };
}

async function filesSpec(dir: string, needs: RuntimeNeeds, signature: ModelSignature, maxBytes: number, opts: RuntimeOptions): Promise<ModelSpec> {
  const onnxFile = needs.onnx?.file ?? ONNX_FILE;
  const has = { tfjs: await isFile(join(dir, 'model.json')), onnx: await isFile(join(dir, onnxFile)) };
  if (!has.tfjs && !has.onnx) throw new VersionFilesError(`the version holds no model: neither model.json (TensorFlow.js) nor ${onnxFile} (ONNX)`);
  const runtime = needs.only?.runtime ?? chooseRuntime(has, opts.choice);
  if (runtime === 'onnx' && !has.onnx) throw new VersionFilesError(`${needs.only?.why ?? 'ONNX Runtime serves it'}, but the version holds no ${onnxFile}`);
  if (runtime === 'tfjs' && !has.tfjs) throw new VersionFilesError(`${needs.only?.why ?? 'TensorFlow.js serves it'}, but the version holds no model.json`);
  if (runtime === 'tfjs') {
    await checkTfjsFiles(dir, maxBytes);
    return { runtime, dir, signature };
  }
  await checkOnnxFile(dir, onnxFile, maxBytes);
  const section = needs.onnx;
  return {
    runtime,
    file: join(dir, onnxFile),
    signature,
    ...(section?.input !== undefined && { input: section.input }),
    ...(section?.output !== undefined && { output: section.output }),
    softmax: section?.outputTransform === 'softmax',
    intraOpThreads: opts.onnxThreads,
  };
}
