/**
 * One ONNX model in ONNX Runtime (CPU execution provider): a session created with every
 * graph optimization on, checked against the version's signature, warmed, and released on
 * dispose. `session.run` computes on ONNX Runtime's own intra-op threads but blocks the
 * calling JavaScript thread until it is done, so the service calls it from its worker
 * threads (see docs in README "Runtimes").
 */
import * as ort from 'onnxruntime-node';
import type { LoadedModel, OnnxSpec } from '../runtime.js';

/** Sessions created and not yet released in this thread (tests read it through the pool). */
let liveSessions = 0;
export const onnxLiveSessions = (): number => liveSessions;

const describeShape = (shape: readonly (number | string)[]): string => `[${shape.map((d) => (typeof d === 'string' ? JSON.stringify(d) : d)).join(', ')}]`;

/** Throws unless the model's input and output fit the signature (batch axis dynamic). */
function checkSession(session: ort.InferenceSession, spec: OnnxSpec): { input: string; output: string } {
  const input = spec.input ?? (session.inputNames.length === 1 ? session.inputNames[0] : undefined);
  if (input === undefined) throw new Error(`the ONNX model has ${session.inputNames.length} inputs (${session.inputNames.join(', ')}); name the one to feed in metadata.json onnx.input`);
  const output = spec.output ?? session.outputNames[0];
  if (!session.inputNames.includes(input)) throw new Error(`the ONNX model has no input named ${JSON.stringify(input)} (it has ${session.inputNames.join(', ')})`);
  if (output === undefined || !session.outputNames.includes(output)) throw new Error(`the ONNX model has no output named ${JSON.stringify(output)} (it has ${session.outputNames.join(', ')})`);
  const inMeta = session.inputMetadata[session.inputNames.indexOf(input)]!;
  const outMeta = session.outputMetadata[session.outputNames.indexOf(output)]!;
  if (!inMeta.isTensor || inMeta.type !== 'float32') throw new Error(`the ONNX model's input ${input} is not a float32 tensor`);
  if (!outMeta.isTensor || outMeta.type !== 'float32') throw new Error(`the ONNX model's output ${output} is not a float32 tensor`);
  const expected = spec.signature.inputShape;
  const [batch, ...rest] = inMeta.shape;
  if (typeof batch === 'number' && batch !== -1) {
    throw new Error(`the ONNX model's input ${input} has a fixed batch size of ${batch}; export it with a dynamic first axis`);
  }
  const fits = rest.length === expected.length && rest.every((d, i) => typeof d === 'string' || d === expected[i]);
  if (!fits) throw new Error(`the ONNX model's input ${input} has shape ${describeShape(inMeta.shape)} but metadata.json describes ${describeShape(['N', ...expected])}`);
  const last = outMeta.shape.at(-1);
  if (outMeta.shape.length !== 2 || (typeof last === 'number' && last !== spec.signature.outputs)) {
    throw new Error(`the ONNX model's output ${output} has shape ${describeShape(outMeta.shape)} but metadata.json describes ${describeShape(['N', spec.signature.outputs])}`);
  }
  return { input, output };
}

/** Row-wise softmax of n rows of k logits, in place. */
function softmaxRows(values: Float32Array, k: number): Float32Array {
  for (let r = 0; r < values.length; r += k) {
    let max = -Infinity;
    for (let i = r; i < r + k; i++) max = Math.max(max, values[i]!);
    let sum = 0;
    for (let i = r; i < r + k; i++) sum += values[i] = Math.exp(values[i]! - max);
    for (let i = r; i < r + k; i++) values[i]! /= sum;
  }
  return values;
}

export class OnnxModel implements LoadedModel {
  private released = false;
  private readonly inputSize: number;

  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly spec: OnnxSpec,
    private readonly input: string,
    private readonly output: string,
  ) {
    this.inputSize = spec.signature.inputShape.reduce((a, b) => a * b, 1);
  }

  static async load(spec: OnnxSpec, warmupRuns: number): Promise<OnnxModel> {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(spec.file, {
        executionProviders: ['cpu'],
        graphOptimizationLevel: 'all',
        intraOpNumThreads: spec.intraOpThreads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
      });
    } catch (err) {
      throw new Error(`ONNX Runtime could not load the model: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    liveSessions++;
    try {
      const { input, output } = checkSession(session, spec);
      const model = new OnnxModel(session, spec, input, output);
      for (let i = 0; i < warmupRuns; i++) await model.run(new Float32Array(model.inputSize), 1);
      return model;
    } catch (err) {
      liveSessions--;
      await session.release();
      throw err;
    }
  }

  async run(batch: Float32Array, n: number): Promise<Float32Array> {
    if (this.released) throw new Error(`the ONNX model ${this.spec.file} has been released`);
    if (batch.length !== n * this.inputSize) throw new RangeError(`batch has ${batch.length} values, expected ${n} × ${this.inputSize}`);
    const x = new ort.Tensor('float32', batch, [n, ...this.spec.signature.inputShape]);
    const results = await this.session.run({ [this.input]: x }, [this.output]);
    const y = results[this.output]!;
    const k = this.spec.signature.outputs;
    if (y.type !== 'float32' || y.data.length !== n * k) throw new Error(`the ONNX model gave ${y.dims.join('×')} ${y.type} values for ${n} inputs; expected ${n}×${k} float32`);
    const values = y.data as Float32Array;
    return this.spec.softmax ? softmaxRows(values, k) : values;
  }

  dispose(): void {
    if (this.released) return;
    this.released = true;
    liveSessions--;
    void this.session.release();
  }
}
