/** Exact Shapley values of a row against the training mean: 2^features + 1 evaluations (iris 17, wine 2,049). */
import { exactShapley, MAX_EXACT_FEATURES } from '../../explain/shapley.js';
import { argMax } from '../../inference/postprocess.js';
import { invalidInput } from '../../serving/errors.js';
import { checkMethod, round6, targetIndex } from '../explain-common.js';
import type { ExplainPlan, ExplainRequest } from '../kind.js';
import type { TabularMetadata } from './metadata.js';
import { parseRow, standardizedRow } from './request.js';
import { standardize } from './standardize.js';

export const TABULAR_METHODS = ['shapley'] as const;

export function planRowExplanation(metadata: TabularMetadata, name: string, row: unknown, request: ExplainRequest): ExplainPlan {
  if (request.format === 'png') throw invalidInput('invalid-request', `a PNG heat-map is drawn for image models; '${name}' is ${metadata.kind}`);
  checkMethod(request.method, TABULAR_METHODS, 'tabular');
  const { features, standardization } = metadata;
  if (features.length > MAX_EXACT_FEATURES) throw invalidInput('too-many-features', `exact Shapley values need 2^${features.length} model evaluations; at most ${MAX_EXACT_FEATURES} features are explained`);
  const labels = metadata.kind === 'tabular-classifier' ? metadata.labels : undefined;
  const wanted = labels ? targetIndex(labels, request.target) : undefined;
  if (!labels && request.target !== undefined) throw invalidInput('unknown-target', 'a regressor has one output; target applies to classifiers');
  const x = parseRow(row, features);
  standardizedRow(x, features, standardization);
  const baseline = standardization.mean;
  const prepare = (r: readonly number[]): Float32Array => Float32Array.from(standardize(r, standardization));
  return {
    method: 'shapley',
    async run(evaluate) {
      const [atInput] = await evaluate([prepare(x)]);
      const target = labels ? (wanted ?? argMax(atInput!)) : 0;
      const shapley = await exactShapley(x, baseline, async (rows) => (await evaluate(rows.map(prepare))).map((o) => o[target]!));
      const featureName = (i: number): string => features[i]!.name;
      const evaluations = shapley.evaluations + 1;
      const body = {
        method: 'shapley',
        ...(labels ? { class_label: labels[argMax(atInput!)]! } : { prediction: round6(atInput![0]!) }),
        output: labels ? `probability of ${labels[target]!}` : 'prediction',
        value: shapley.value,
        baseline_value: shapley.baselineValue,
        baseline: Object.fromEntries(baseline.map((b, i) => [featureName(i), b])),
        attributions: Object.fromEntries(shapley.values.map((v, i) => [featureName(i), v])),
        evaluations,
      };
      return { method: 'shapley', evaluations, body, log: { method: 'shapley', evaluations } };
    },
  };
}
