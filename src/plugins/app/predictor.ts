import fp from 'fastify-plugin';
import { ProblemError, toClientProblem, unavailable } from '../../errors.js';
import type { ImageClassifier } from '../../inference/classifier.js';
import { toPrediction, type ClassPrediction } from '../../inference/postprocess.js';
import type { ModelRegistry } from '../../inference/registry.js';
import { prepareImage, type ImageLimits, type PreparedImage } from '../../preprocessing/image.js';

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
  resolve(modelName?: string): ImageClassifier;
  predict(model: ImageClassifier, input: ImageInput, topK: number): Promise<PredictionOutcome>;
  /** Every valid image goes through the model in one batched call; invalid ones get their own error. */
  predictBatch(model: ImageClassifier, inputs: readonly ImageInput[], topK: number): Promise<BatchOutcome[]>;
}

declare module 'fastify' {
  interface FastifyInstance {
    predictor: Predictor;
  }
}

/** Decode and classify images against the registry's models. */
export function createPredictor(registry: ModelRegistry, limits: ImageLimits & { maxUploadBytes: number }): Predictor {
  const prepare = async (model: ImageClassifier, input: ImageInput): Promise<PreparedImage> => {
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
      const [probs] = await model.classify([image.input]);
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
      const probs = await model.classify(valid.map((v) => v.input));
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
    app.decorate('predictor', createPredictor(app.models, opts.limits));
  },
  { name: 'predictor', dependencies: ['models'] },
);
