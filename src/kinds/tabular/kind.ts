/** The tabular kinds: a model (TF.js or ONNX) over standardized features; class probabilities or one value. */
import type { ModelKind } from '../kind.js';
import type { TabularMetadata } from './metadata.js';
import { standardize } from './standardize.js';

export const tabularModel: ModelKind<TabularMetadata> = {
  async check() {
    // Features, standardization and labels are checked by the metadata schema.
  },

  signature(metadata) {
    return { inputShape: [metadata.features.length], outputs: metadata.kind === 'tabular-classifier' ? metadata.labels.length : 1 };
  },

  // The training mean of every feature: a real, typical row.
  async sampleInput(metadata) {
    return standardize(metadata.standardization.mean, metadata.standardization);
  },

  checkOutput(metadata, output) {
    if (!output.every((v) => Number.isFinite(v))) throw new Error('the model gave values that are not finite on the mean row');
    if (metadata.kind === 'tabular-regressor') {
      if (output.length !== 1) throw new Error(`a regressor must give 1 output, not ${output.length}`);
      return;
    }
    if (output.length !== metadata.labels.length) throw new Error(`the model gave ${output.length} outputs for ${metadata.labels.length} labels`);
    const sum = output.reduce((a, b) => a + b, 0);
    if (!output.every((p) => p >= 0 && p <= 1) || Math.abs(sum - 1) > 1e-3) throw new Error(`the model's outputs are not probabilities on the mean row (sum ${sum.toFixed(4)})`);
  },

  describe(metadata) {
    return {
      kind: metadata.kind,
      description: metadata.description ?? null,
      features: metadata.features,
      // The training mean of each feature: the baseline of explanations, and a typical row.
      baseline: Object.fromEntries(metadata.features.map((f, i) => [f.name, metadata.standardization.mean[i]!])),
      ...(metadata.kind === 'tabular-classifier' ? { labels: [...metadata.labels] } : { target: metadata.target }),
      accuracy: (metadata.validation?.accuracy as number | undefined) ?? null,
    };
  },
};
