/**
 * The image prediction use cases, Fastify-free: check, look up the cache, decode, run the
 * version's scheduler, shape the answer. The caller holds the version (a repository lease)
 * for the whole request.
 */
import { cacheKey, type CachedPrediction, type PredictionCache } from '../cache/prediction-cache.js';
import { ProblemError, toClientProblem } from '../http/problems.js';
import { argMax, toPrediction, type ClassPrediction } from '../inference/postprocess.js';
import type { ModelMetadata } from '../inference/metadata.js';
import type { ServedVersion } from '../inference/served-version.js';

/** A served image classifier. */
export type ImageModel = ServedVersion<ModelMetadata>;
import type { ServiceMetrics } from '../metrics/service-metrics.js';
import { prepareImage, preparePixels, type ImageLimits, type PreparedImage } from '../preprocessing/image.js';

export interface ImageInput {
  /** An encoded image file, or interleaved 8-bit RGB pixels when `pixels` is set. */
  bytes: Uint8Array;
  filename: string | null;
  /** Raw RGB: `bytes` holds width × height × 3 values (the Open Inference Protocol's UINT8 tensors). */
  pixels?: { width: number; height: number };
  /** Set when the request already showed this input to be bad (e.g. invalid base64). */
  problem?: ProblemError;
}

/** The model's whole answer for one input: every class's probability. */
export interface ImageInference {
  probabilities: Float32Array;
  format: string;
  /** Answered from the prediction cache, without decoding or inference. */
  cached: boolean;
  /** The model input it was prepared into (absent for a cache hit): another version with the same contract can reuse it. */
  input?: Float32Array;
}

export type InferenceOutcome = { ok: true; value: ImageInference } | { ok: false; error: ProblemError };

export interface PredictionOutcome extends ClassPrediction {
  format: string;
  /** Answered from the prediction cache, without decoding or inference. */
  cached: boolean;
  /** The prepared model input (absent for a cache hit). */
  input?: Float32Array;
}

export type BatchOutcome = { ok: true; value: PredictionOutcome } | { ok: false; error: ProblemError };

export interface Predictor {
  readonly cacheEnabled: boolean;
  predict(model: ImageModel, input: ImageInput, topK: number): Promise<PredictionOutcome>;
  /** Every valid image goes through the model in one batched call; invalid ones get their own error. */
  predictBatch(model: ImageModel, inputs: readonly ImageInput[], topK: number): Promise<BatchOutcome[]>;
  /** As predictBatch, with the full probability vectors (the Open Inference Protocol's outputs). */
  infer(model: ImageModel, inputs: readonly ImageInput[]): Promise<InferenceOutcome[]>;
}

/** Scheduler refusals are 503s: overload, a crashed instance (after one retry), shutdown. */
async function classify(model: ImageModel, inputs: Float32Array[]): Promise<Float32Array[]> {
  try {
    return await model.classify(inputs);
  } catch (err) {
    throw toClientProblem(err);
  }
}

export interface PredictorDeps {
  limits: ImageLimits & { maxUploadBytes: number };
  cache: PredictionCache | null;
  metrics: ServiceMetrics;
}

/** Problems known before decoding: a bad base64 entry, an oversized file. */
export function checkImageInput(input: ImageInput, maxUploadBytes: number): void {
  if (input.problem) throw input.problem;
  if (input.bytes.length > maxUploadBytes) {
    throw new ProblemError(413, 'payload-too-large', `the image is ${input.bytes.length} bytes; the limit is ${maxUploadBytes}`);
  }
}

/** A file or RGB pixels made into a model input by the model's contract; image problems come out as client problems. */
export async function prepareImageInput(model: ImageModel, input: ImageInput, limits: ImageLimits): Promise<PreparedImage> {
  const contract = model.metadata.preprocessing;
  try {
    return await (input.pixels ? preparePixels(input.bytes, input.pixels, contract, limits) : prepareImage(input.bytes, contract, limits));
  } catch (err) {
    throw toClientProblem(err);
  }
}

export function createPredictor({ limits, cache, metrics }: PredictorDeps): Predictor {
  const precheck = (input: ImageInput): void => checkImageInput(input, limits.maxUploadBytes);

  const prepare = async (model: ImageModel, input: ImageInput): Promise<PreparedImage> => {
    const started = performance.now();
    try {
      return await prepareImageInput(model, input, limits);
    } finally {
      metrics.recordPreprocess(model, (performance.now() - started) / 1000);
    }
  };

  const lookup = async (model: ImageModel, input: ImageInput): Promise<{ key: string; hit: CachedPrediction | undefined } | undefined> => {
    if (!cache) return undefined;
    // Raw pixels are keyed apart from files: the same bytes mean a different image.
    const key = cacheKey(input.bytes, model.ref, input.pixels && `rgb${input.pixels.width}x${input.pixels.height}`);
    const hit = await cache.get(key);
    metrics.recordCacheLookup(cache.kind, hit !== undefined);
    return { key, hit };
  };

  const remember = (key: string | undefined, probs: Float32Array, format: string): void => {
    if (cache && key) void cache.set(key, { probabilities: Array.from(probs), format });
  };

  /** Every input's probabilities: cache hits first, then the rest through the model as one batch. */
  const run = async (model: ImageModel, inputs: readonly ImageInput[]): Promise<InferenceOutcome[]> => {
    type Step = { kind: 'done'; outcome: InferenceOutcome } | { kind: 'run'; key: string | undefined; image: PreparedImage };
    const steps = await Promise.all(
      inputs.map(async (input): Promise<Step> => {
        try {
          precheck(input);
          const cached = await lookup(model, input);
          if (cached?.hit) {
            const value = { probabilities: Float32Array.from(cached.hit.probabilities), format: cached.hit.format, cached: true };
            return { kind: 'done', outcome: { ok: true, value } };
          }
          return { kind: 'run', key: cached?.key, image: await prepare(model, input) };
        } catch (err) {
          return { kind: 'done', outcome: { ok: false, error: toClientProblem(err) } };
        }
      }),
    );
    const runs = steps.flatMap((s) => (s.kind === 'run' ? [s] : []));
    const probs = runs.length > 0 ? await classify(model, runs.map((r) => r.image.input)) : [];
    let next = 0;
    return steps.map((step): InferenceOutcome => {
      if (step.kind === 'done') return step.outcome;
      const p = probs[next++]!;
      remember(step.key, p, step.image.format);
      return { ok: true, value: { probabilities: p, format: step.image.format, cached: false, input: step.image.input } };
    });
  };

  const answer = (model: ImageModel, result: ImageInference, topK: number): PredictionOutcome => {
    const prediction = toPrediction(result.probabilities, model.labels, topK);
    metrics.recordPrediction(model, prediction.class_label, prediction.confidence);
    return { ...prediction, cached: result.cached, format: result.format, ...(result.input && { input: result.input }) };
  };

  return {
    cacheEnabled: cache !== null,

    async predict(model, input, topK) {
      const [outcome] = await run(model, [input]);
      if (!outcome!.ok) throw outcome!.error;
      return answer(model, outcome!.value, topK);
    },

    async predictBatch(model, inputs, topK) {
      const outcomes = await run(model, inputs);
      return outcomes.map((o): BatchOutcome => (o.ok ? { ok: true, value: answer(model, o.value, topK) } : o));
    },

    async infer(model, inputs) {
      const outcomes = await run(model, inputs);
      for (const o of outcomes) {
        if (!o.ok) continue;
        const best = argMax(o.value.probabilities);
        metrics.recordPrediction(model, model.labels[best]!, o.value.probabilities[best]!);
      }
      return outcomes;
    },
  };
}
