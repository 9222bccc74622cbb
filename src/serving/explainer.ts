/**
 * The explanation use cases, Fastify-free: why a served version answered what it did.
 *
 *   images   occlusion (the default): (positions of a patch of side `patch`, step patch/2,
 *            per side)² + 1 model evaluations (4 px on 32×32: 225 + 1 = 226);
 *            sampling: 512 random pixel masks + 1 = 513 evaluations;
 *            sent through the version's batcher in batches of MAX_BATCH_SIZE
 *   rows     exact Shapley values against the training mean: 2^features evaluations
 *            (iris 16, wine 2,048), batched the same way
 *
 * At most EXPLAIN_CONCURRENCY explanations run at once; more are refused with 503 and
 * Retry-After, so explanations cannot starve predictions. The caller holds the version.
 */
import { occlusion, occlusionEvaluations } from '../explain/occlusion.js';
import { maskSampling } from '../explain/sampling.js';
import { heatmapPng } from '../explain/heatmap.js';
import { exactShapley, MAX_EXACT_FEATURES } from '../explain/shapley.js';
import { badRequest, ProblemError, toClientProblem } from '../http/problems.js';
import { argMax } from '../inference/postprocess.js';
import { parseRow } from '../kinds/tabular/request.js';
import { standardize } from '../kinds/tabular/standardize.js';
import type { ServiceMetrics } from '../metrics/service-metrics.js';
import type { ImageLimits } from '../preprocessing/image.js';
import { denormalize } from '../preprocessing/normalize.js';
import type { ServedVersion } from '../inference/served-version.js';
import { checkImageInput, prepareImageInput, type ImageInput, type ImageModel } from './predictor.js';
import type { TabularModel } from './tabular.js';

/** Methods by kind: occlusion runs on every runtime (it only evaluates the model). */
export const IMAGE_METHODS = ['occlusion', 'sampling'] as const;
/** The most model evaluations one image explanation may cost (a small patch on a large input would ask for more). */
export const MAX_IMAGE_EVALUATIONS = 4096;
/** The sampling method's masks: each hides 20 % of the pixels; 512 of them (513 evaluations). */
export const SAMPLING = { masks: 512, fraction: 0.2, seed: 1 };
export const TABULAR_METHODS = ['shapley'] as const;
export type ExplainMethod = (typeof IMAGE_METHODS)[number] | (typeof TABULAR_METHODS)[number];

export interface ImageExplainOptions {
  target?: string;
  method?: string;
  /** Side of the occluding patch in model-input pixels; its step is half of it. */
  patch: number;
  /** Also draw the map over the image as a PNG of this width. */
  pngWidth?: number;
}

export interface ImageExplanation {
  class_label: string;
  method: (typeof IMAGE_METHODS)[number];
  target: string;
  /** The target's probability on the whole image. */
  probability: number;
  /** Height × width: the mean drop of the target's probability when the pixel is hidden. */
  attribution: number[][];
  /** Occlusion: the patch and its step. Sampling: the masks. */
  patch?: number;
  stride?: number;
  masks?: number;
  evaluations: number;
  png?: Buffer;
}

export interface RowExplanation {
  method: 'shapley';
  class_label?: string;
  prediction?: number;
  /** What is explained: `probability of <label>`, or `prediction`. */
  output: string;
  value: number;
  baseline_value: number;
  baseline: Record<string, number>;
  attributions: Record<string, number>;
  evaluations: number;
}

export interface Explainer {
  explainImage(model: ImageModel, input: ImageInput, opts: ImageExplainOptions): Promise<ImageExplanation>;
  explainRow(model: TabularModel, row: unknown, opts: { target?: string; method?: string }): Promise<RowExplanation>;
}

export interface ExplainerDeps {
  limits: ImageLimits & { maxUploadBytes: number };
  metrics: ServiceMetrics;
  /** Inputs per model call (MAX_BATCH_SIZE). */
  maxBatch: number;
  /** Explanations at once (EXPLAIN_CONCURRENCY). */
  concurrency: number;
}

const round = (v: number): number => Math.round(v * 1e6) / 1e6;

function checkMethod(method: string | undefined, allowed: readonly string[], kind: string): void {
  if (method !== undefined && !allowed.includes(method)) {
    throw badRequest('unknown-method', `method '${method.slice(0, 40)}' is not available for ${kind} models; use ${allowed.join(' or ')}`);
  }
}

function targetIndex(labels: readonly string[], target: string | undefined): number | undefined {
  if (target === undefined) return undefined;
  const i = labels.indexOf(target);
  if (i < 0) throw badRequest('unknown-target', `target '${target.slice(0, 64)}' is not a class of this model; one of ${labels.join(', ')}`);
  return i;
}

export function createExplainer({ limits, metrics, maxBatch, concurrency }: ExplainerDeps): Explainer {
  let running = 0;

  /** Run `work` in one of the EXPLAIN_CONCURRENCY slots, or refuse at once. */
  const slot = async <T>(model: ServedVersion, method: string, work: () => Promise<T & { evaluations: number }>): Promise<T & { evaluations: number }> => {
    if (running >= concurrency) {
      metrics.recordExplanationRefused();
      throw new ProblemError(503, 'explanations-busy', `${running} explanations are running, the limit (EXPLAIN_CONCURRENCY); retry shortly`, { 'retry-after': '1' });
    }
    running++;
    metrics.setExplanationsInFlight(running);
    const started = performance.now();
    try {
      const result = await work();
      metrics.recordExplanation(model, method, (performance.now() - started) / 1000, result.evaluations);
      return result;
    } finally {
      running--;
      metrics.setExplanationsInFlight(running);
    }
  };

  /** The model on many inputs, MAX_BATCH_SIZE at a time through the version's batcher. */
  const evaluate = async (model: ServedVersion, inputs: Float32Array[]): Promise<Float32Array[]> => {
    const out: Float32Array[] = [];
    try {
      for (let i = 0; i < inputs.length; i += maxBatch) out.push(...(await model.classify(inputs.slice(i, i + maxBatch))));
    } catch (err) {
      throw toClientProblem(err);
    }
    return out;
  };

  return {
    async explainImage(model, input, opts) {
      checkMethod(opts.method, IMAGE_METHODS, 'image');
      const wanted = targetIndex(model.labels, opts.target);
      checkImageInput(input, limits.maxUploadBytes);
      const method = (opts.method ?? 'occlusion') as (typeof IMAGE_METHODS)[number];
      if (method === 'occlusion') {
        const { height, width } = model.metadata.preprocessing;
        const patch = Math.min(opts.patch, height, width);
        const cost = occlusionEvaluations({ height, width }, { patch, stride: Math.max(1, Math.floor(patch / 2)) });
        if (cost > MAX_IMAGE_EVALUATIONS) throw badRequest('too-costly', `occlusion with a ${patch}-px patch on ${width}×${height} inputs needs ${cost} model evaluations; at most ${MAX_IMAGE_EVALUATIONS}: use a larger patch`);
      }
      return slot(model, method, async () => {
        const contract = model.metadata.preprocessing;
        const prepared = await prepareImageInput(model, input, limits);
        const geometry = { height: contract.height, width: contract.width, layout: contract.layout };
        const pick = (p: Float32Array): number => wanted ?? argMax(p);
        const run = (xs: Float32Array[]): Promise<Float32Array[]> => evaluate(model, xs);
        let result: Awaited<ReturnType<typeof occlusion>>;
        let settings: Pick<ImageExplanation, 'patch' | 'stride' | 'masks'>;
        if (method === 'sampling') {
          result = await maskSampling(prepared.input, pick, geometry, SAMPLING, run);
          settings = { masks: SAMPLING.masks };
        } else {
          const patch = Math.min(opts.patch, contract.height, contract.width);
          const stride = Math.max(1, Math.floor(patch / 2));
          result = await occlusion(prepared.input, pick, geometry, { patch, stride }, run);
          settings = { patch, stride };
        }
        const explanation: ImageExplanation = {
          class_label: model.labels[argMax(result.probabilities)]!,
          method,
          target: model.labels[result.target]!,
          probability: round(result.probability),
          attribution: result.attribution,
          ...settings,
          evaluations: result.evaluations,
        };
        if (opts.pngWidth) explanation.png = await heatmapPng(denormalize(prepared.input, contract), contract.width, contract.height, result.attribution, opts.pngWidth);
        return explanation;
      });
    },

    async explainRow(model, row, opts) {
      checkMethod(opts.method, TABULAR_METHODS, 'tabular');
      const { metadata } = model;
      const features = metadata.features;
      if (features.length > MAX_EXACT_FEATURES) throw badRequest('too-many-features', `exact Shapley values need 2^${features.length} model evaluations; at most ${MAX_EXACT_FEATURES} features are explained`);
      const classifier = metadata.kind === 'tabular-classifier';
      const wanted = classifier ? targetIndex(metadata.labels, opts.target) : undefined;
      if (!classifier && opts.target !== undefined) throw badRequest('unknown-target', 'a regressor has one output; target applies to classifiers');
      const x = parseRow(row, features);
      const baseline = metadata.standardization.mean;
      return slot(model, 'shapley', async () => {
        const [atInput] = await evaluate(model, [Float32Array.from(standardize(x, metadata.standardization))]);
        const target = classifier ? (wanted ?? argMax(atInput!)) : 0;
        const shapley = await exactShapley(x, baseline, async (rows) =>
          (await evaluate(model, rows.map((r) => Float32Array.from(standardize(r, metadata.standardization))))).map((o) => o[target]!),
        );
        const name = (i: number): string => features[i]!.name;
        return {
          method: 'shapley',
          ...(classifier ? { class_label: metadata.labels[argMax(atInput!)]! } : { prediction: round(atInput![0]!) }),
          output: classifier ? `probability of ${metadata.labels[target]!}` : 'prediction',
          value: shapley.value,
          baseline_value: shapley.baselineValue,
          baseline: Object.fromEntries(baseline.map((b, i) => [name(i), b])),
          attributions: Object.fromEntries(shapley.values.map((v, i) => [name(i), v])),
          evaluations: shapley.evaluations + 1,
        };
      });
    },
  };
}
