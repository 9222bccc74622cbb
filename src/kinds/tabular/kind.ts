/** The tabular kinds: a model (TF.js or ONNX) over standardized features; class probabilities (a classifier) or one value (a regressor). */
import { classAnswer, classSummary, predictionSchema, regressionSchema, roundValue } from '../answers.js';
import type { BindContext, KindModel, ModelKind, Summary } from '../kind.js';
import { parseMetadata, temperatureOf } from '../metadata.js';
import { planRowExplanation } from './explain.js';
import { readRow, readRows } from './inputs.js';
import { tabularMetadataSchema, type TabularMetadata } from './metadata.js';
import { tabularTensors } from './open-inference.js';
import { tabularOpenApi } from './openapi.js';
import { outOfRange, parseRow, standardizedRow } from './request.js';
import { rowExplanationSchema } from './schemas.js';
import { standardize } from './standardize.js';

function bind(metadata: TabularMetadata, { name, limits }: BindContext): KindModel {
  const { features, standardization } = metadata;
  const classifier = metadata.kind === 'tabular-classifier';
  const labels = classifier ? metadata.labels : [];
  const what = `model '${name}' (${metadata.kind})`;
  return {
    kind: metadata.kind,
    labels,
    signature: { inputShape: [features.length], outputs: classifier ? labels.length : 1 },
    runtime: { ...(metadata.onnx && { onnx: metadata.onnx }), ...(classifier && temperatureOf(metadata.calibration)) },
    contract: JSON.stringify({ features: features.map((f) => f.name), standardization }),

    // The training mean of every feature: a real, typical row.
    sampleInput: async () => standardize(standardization.mean, standardization),
    checkOutput(output) {
      if (!output.every((v) => Number.isFinite(v))) throw new Error('the model gave values that are not finite on the mean row');
      if (!classifier) {
        if (output.length !== 1) throw new Error(`a regressor must give 1 output, not ${output.length}`);
        return;
      }
      if (output.length !== labels.length) throw new Error(`the model gave ${output.length} outputs for ${labels.length} labels`);
      const sum = output.reduce((a, b) => a + b, 0);
      if (!output.every((p) => p >= 0 && p <= 1) || Math.abs(sum - 1) > 1e-3) throw new Error(`the model's outputs are not probabilities on the mean row (sum ${sum.toFixed(4)})`);
    },
    describe: () => ({
      kind: metadata.kind,
      description: metadata.description ?? null,
      features,
      // The training mean of each feature: the baseline of explanations, and a typical row.
      baseline: Object.fromEntries(features.map((f, i) => [f.name, standardization.mean[i]!])),
      ...(metadata.kind === 'tabular-classifier'
        ? { labels: [...metadata.labels], calibration: metadata.calibration ?? null }
        : // How far off its answers were on held-out rows (mean absolute error, and the interval of 90 % of errors).
          { target: metadata.target, errors: metadata.errors ?? null }),
      accuracy: (metadata.validation?.accuracy as number | undefined) ?? null,
    }),

    readSingle: async (body) => readRow(body, what),
    readBatch: async (body) => readRows(body, what, limits),
    inspect(row) {
      const values = parseRow(row, features);
      const tensor = standardizedRow(values, features, standardization);
      return {
        // The canonical form: values in declared order, so {"a":1,"b":2} and {"b":2,"a":1} share an entry.
        key: { bytes: Buffer.from(JSON.stringify(values)) },
        warnings: outOfRange(values, features).map((f) => ({ feature: f.feature, message: f.warning })),
        prepare: async () => ({ tensor }),
      };
    },
    answer: classifier ? (output, { topK }) => classAnswer(labels)(output, topK) : (output) => ({ prediction: roundValue(output[0]!) }),
    summarize: classifier ? classSummary(labels) : (output): Summary => ({ value: output[0]! }),
    openInference: tabularTensors(metadata),
    planExplanation: (row, request) => planRowExplanation(metadata, name, row, request),
    openApi: () => tabularOpenApi(metadata),
  };
}

export const tabularKind: ModelKind<TabularMetadata> = {
  names: ['tabular-classifier', 'tabular-regressor'],
  parseMetadata: (raw) => parseMetadata(tabularMetadataSchema, raw),
  bind,
  answerSchemas: [predictionSchema, regressionSchema],
  explanationSchemas: [rowExplanationSchema],
};
