/**
 * Why an image classifier answered what it did:
 *   occlusion (the default): (positions of a patch of side `patch`, step patch/2, per side)² + 1
 *            model evaluations (4 px on 32×32: 225 + 1 = 226);
 *   sampling: 512 random pixel masks + 1 = 513 evaluations.
 * The map is at the model's input resolution, as JSON or drawn over the image as a PNG.
 */
import { heatmapPng } from '../../explain/heatmap.js';
import { occlusion, occlusionEvaluations } from '../../explain/occlusion.js';
import { maskSampling } from '../../explain/sampling.js';
import { argMax } from '../../inference/postprocess.js';
import { denormalize } from '../../preprocessing/normalize.js';
import { invalidInput } from '../../serving/errors.js';
import { checkMethod, round6, targetIndex } from '../explain-common.js';
import type { ExplainPlan, ExplainRequest, Inspected } from '../kind.js';
import type { ImageMetadata } from './metadata.js';

export const IMAGE_METHODS = ['occlusion', 'sampling'] as const;
/** The most model evaluations one image explanation may cost (a small patch on a large input would ask for more). */
export const MAX_IMAGE_EVALUATIONS = 4096;
/** The sampling method's masks: each hides 20 % of the pixels; 512 of them (513 evaluations). */
export const SAMPLING = { masks: 512, fraction: 0.2, seed: 1 };

/** Checked before a slot is taken: method, target and cost; `prepare` runs inside the slot. */
export function planImageExplanation(metadata: ImageMetadata, inspect: () => Inspected, request: ExplainRequest): ExplainPlan {
  const method = checkMethod(request.method, IMAGE_METHODS, 'image') as (typeof IMAGE_METHODS)[number];
  const { labels, preprocessing: contract } = metadata;
  const wanted = targetIndex(labels, request.target);
  const { prepare } = inspect();
  const patch = Math.min(request.patch, contract.height, contract.width);
  const stride = Math.max(1, Math.floor(patch / 2));
  if (method === 'occlusion') {
    const cost = occlusionEvaluations({ height: contract.height, width: contract.width }, { patch, stride });
    if (cost > MAX_IMAGE_EVALUATIONS) throw invalidInput('too-costly', `occlusion with a ${patch}-px patch on ${contract.width}×${contract.height} inputs needs ${cost} model evaluations; at most ${MAX_IMAGE_EVALUATIONS}: use a larger patch`);
  }
  return {
    method,
    async run(evaluate) {
      const { tensor } = await prepare();
      const geometry = { height: contract.height, width: contract.width, layout: contract.layout };
      const pick = (p: Float32Array): number => wanted ?? argMax(p);
      const result =
        method === 'sampling' ? await maskSampling(tensor, pick, geometry, SAMPLING, evaluate) : await occlusion(tensor, pick, geometry, { patch, stride }, evaluate);
      const settings = method === 'sampling' ? { masks: SAMPLING.masks } : { patch, stride };
      const classLabel = labels[argMax(result.probabilities)]!;
      const target = labels[result.target]!;
      const body = { class_label: classLabel, method, target, probability: round6(result.probability), attribution: result.attribution, ...settings, evaluations: result.evaluations };
      const png = (request.format ?? (request.acceptsPng ? 'png' : 'json')) === 'png'
        ? { bytes: await heatmapPng(denormalize(tensor, contract), contract.width, contract.height, result.attribution, request.pngWidth), headers: { 'x-class-label': classLabel, 'x-explained-target': target } }
        : undefined;
      return { method, evaluations: result.evaluations, body, ...(png && { png }), log: { method, target, evaluations: result.evaluations } };
    },
  };
}
