import fp from 'fastify-plugin';
import { ProblemError, toClientProblem, unavailable } from '../../errors.js';
import type { ServedModel } from '../../inference/served-model.js';
import { ExecutorCrashedError, QueueFullError, SchedulerClosedError } from '../../inference/scheduler.js';
import { toPrediction, type ClassPrediction } from '../../inference/postprocess.js';
import type { ModelRegistry } from '../../inference/registry.js';
import { configureImageDecoding, prepareImage, type ImageLimits, type PreparedImage } from '../../preprocessing/image.js';

export interface ImageInput {
  bytes: Uint8Array;
  filename: string | null;
  /** Set when the request already showed this input to be bad (e.g. invalid base64). */
  problem?: ProblemError;
}

export interface PredictionOutcome extends ClassPrediction {
  format: string;
}

export type BatchOutcome = { ok: true; value: PredictionOutcome } | { ok: false; error: ProblemError };

export interface Predictor {
  /** The model that serves a request, or a 503/404 problem. */
  resolve(modelName?: string): ServedModel;
  predict(model: ServedModel, input: ImageInput, topK: number): Promise<PredictionOutcome>;
  /** Every valid image goes through the model in one batched call; invalid ones get their own error. */
  predictBatch(model: ServedModel, inputs: readonly ImageInput[], topK: number): Promise<BatchOutcome[]>;
}

declare module 'fastify' {
  interface FastifyInstance {
    predictor: Predictor;
  }
}

/** Decode and classify images against the registry's models. */
/** Scheduler refusals are 503s: overload, a crashed instance (after one retry), shutdown. */
async function classify(model: ServedModel, inputs: Float32Array[]): Promise<Float32Array[]> {
  try {
    return await model.classify(inputs);
  } catch (err) {
    if (err instanceof QueueFullError) throw new ProblemError(503, 'overloaded', `${err.message}; retry shortly`, { 'retry-after': '1' });
    if (err instanceof ExecutorCrashedError) throw new ProblemError(503, 'instance-crashed', 'the model instance stopped while running this request; retry', { 'retry-after': '1' });
    if (err instanceof SchedulerClosedError) throw new ProblemError(503, 'shutting-down', 'the server is shutting down', { 'retry-after': '5' });
    throw err;
  }
}

export function createPredictor(registry: ModelRegistry, limits: ImageLimits & { maxUploadBytes: number }): Predictor {
  const prepare = async (model: ServedModel, input: ImageInput): Promise<PreparedImage> => {
    if (input.problem) throw input.problem;
    if (input.bytes.length > limits.maxUploadBytes) {
      throw new ProblemError(413, 'payload-too-large', `the image is ${input.bytes.length} bytes; the limit is ${limits.maxUploadBytes}`);
    }
    return prepareImage(input.bytes, model.metadata.preprocessing, limits);
  };

  return {
    resolve(modelName) {
      if (registry.state === 'loading') throw unavailable('the model is still loading', 2);
      if (registry.state === 'failed') throw unavailable('the model failed to load', 30);
      const model = registry.get(modelName);
      if (!model) throw new ProblemError(404, 'unknown-model', `no model named '${modelName ?? ''}'`);
      return model;
    },

    async predict(model, input, topK) {
      const image = await prepare(model, input).catch((err: unknown) => {
        throw toClientProblem(err);
      });
      const [probs] = await classify(model, [image.input]);
      return { ...toPrediction(probs!, model.labels, topK), format: image.format };
    },

    async predictBatch(model, inputs, topK) {
      const prepared = await Promise.all(
        inputs.map((input) =>
          prepare(model, input).then(
            (image) => ({ ok: true as const, image }),
            (err: unknown) => ({ ok: false as const, error: toClientProblem(err) }),
          ),
        ),
      );
      const valid = prepared.flatMap((p) => (p.ok ? [p.image] : []));
      const probs = valid.length > 0 ? await classify(model, valid.map((v) => v.input)) : [];
      let next = 0;
      return prepared.map((p): BatchOutcome => {
        if (!p.ok) return p;
        const prediction = toPrediction(probs[next++]!, model.labels, topK);
        return { ok: true, value: { ...prediction, format: p.image.format } };
      });
    },
  };
}

export interface PredictorOptions {
  limits: ImageLimits & { maxUploadBytes: number };
}

export default fp<PredictorOptions>(
  async (app, opts) => {
    configureImageDecoding();
    app.decorate('predictor', createPredictor(app.models, opts.limits));
  },
  { name: 'predictor', dependencies: ['models'] },
);
