/**
 * The tabular prediction use cases, Fastify-free: parse and check the row, flag values outside
 * the training range, look up the cache (keyed by the canonical feature vector), standardize,
 * run the version's scheduler, shape a class or a value.
 */
import { cacheKey, type PredictionCache } from '../cache/prediction-cache.js';
import { type ProblemError, toClientProblem } from '../http/problems.js';
import { argMax, toPrediction, type ClassPrediction } from '../inference/postprocess.js';
import type { ServedVersion } from '../inference/served-version.js';
import type { TabularMetadata } from '../kinds/tabular/metadata.js';
import { outOfRange, parseRow } from '../kinds/tabular/request.js';
import { standardize } from '../kinds/tabular/standardize.js';
import type { ServiceMetrics } from '../metrics/service-metrics.js';

export type TabularModel = ServedVersion<TabularMetadata>;

export type TabularAnswer = (ClassPrediction | { prediction: number }) & { cached: boolean; warnings?: string[] };

export type TabularOutcome = { ok: true; value: TabularAnswer } | { ok: false; error: ProblemError };

/** The model's whole output for one row (class probabilities, or the one regression value). */
export interface TabularInference {
  output: Float32Array;
  cached: boolean;
  warnings: string[];
}

export type TabularInferenceOutcome = { ok: true; value: TabularInference } | { ok: false; error: ProblemError };

export interface TabularPredictor {
  predict(model: TabularModel, row: unknown, topK: number): Promise<TabularAnswer>;
  /** Every valid row goes through the model in one batched call; invalid ones get their own error. */
  predictBatch(model: TabularModel, rows: readonly unknown[], topK: number): Promise<TabularOutcome[]>;
  /** As predictBatch, with the model's whole outputs (the Open Inference Protocol's tensors). */
  infer(model: TabularModel, rows: readonly unknown[]): Promise<TabularInferenceOutcome[]>;
}

interface Checked {
  values: number[];
  warnings: string[];
  key: string | undefined;
}

export function createTabularPredictor({ cache, metrics }: { cache: PredictionCache | null; metrics: ServiceMetrics }): TabularPredictor {
  const check = (model: TabularModel, row: unknown): Checked => {
    const { features } = model.metadata;
    const values = parseRow(row, features);
    const flagged = outOfRange(values, features);
    for (const f of flagged) metrics.recordOutOfRange(model, f.feature);
    // The canonical form: values in declared order, so {"a":1,"b":2} and {"b":2,"a":1} share an entry.
    const key = cache ? cacheKey(Buffer.from(JSON.stringify(values)), model.ref) : undefined;
    return { values, warnings: flagged.map((f) => f.warning), key };
  };

  const answer = (model: TabularModel, output: Float32Array, topK: number, cached: boolean, warnings: string[]): TabularAnswer => {
    const extra = { cached, ...(warnings.length > 0 ? { warnings } : {}) };
    if (model.metadata.kind === 'tabular-regressor') return { prediction: Math.round(output[0]! * 1e6) / 1e6, ...extra };
    const prediction = toPrediction(output, model.metadata.labels, topK);
    metrics.recordPrediction(model, prediction.class_label, prediction.confidence);
    return { ...prediction, ...extra };
  };

  const lookup = async (key: string | undefined): Promise<Float32Array | undefined> => {
    if (!cache || !key) return undefined;
    const hit = await cache.get(key);
    metrics.recordCacheLookup(cache.kind, hit !== undefined);
    return hit && Float32Array.from(hit.probabilities);
  };

  const remember = (key: string | undefined, output: Float32Array): void => {
    if (cache && key) void cache.set(key, { probabilities: Array.from(output), format: 'tabular' });
  };

  const run = async (model: TabularModel, rows: number[][]): Promise<Float32Array[]> => {
    try {
      return await model.classify(rows.map((v) => standardize(v, model.metadata.standardization)));
    } catch (err) {
      throw toClientProblem(err);
    }
  };

  /** Every row's output: cache hits first, then the rest through the model as one batch. */
  const runAll = async (model: TabularModel, rows: readonly unknown[]): Promise<TabularInferenceOutcome[]> => {
    type Step = { kind: 'done'; outcome: TabularInferenceOutcome } | { kind: 'run'; checked: Checked };
    const steps = await Promise.all(
      rows.map(async (row): Promise<Step> => {
        try {
          const c = check(model, row);
          const hit = await lookup(c.key);
          return hit ? { kind: 'done', outcome: { ok: true, value: { output: hit, cached: true, warnings: c.warnings } } } : { kind: 'run', checked: c };
        } catch (err) {
          return { kind: 'done', outcome: { ok: false, error: toClientProblem(err) } };
        }
      }),
    );
    const runs = steps.flatMap((s) => (s.kind === 'run' ? [s.checked] : []));
    const outputs = runs.length > 0 ? await run(model, runs.map((r) => r.values)) : [];
    let next = 0;
    return steps.map((step): TabularInferenceOutcome => {
      if (step.kind === 'done') return step.outcome;
      const output = outputs[next++]!;
      remember(step.checked.key, output);
      return { ok: true, value: { output, cached: false, warnings: step.checked.warnings } };
    });
  };

  const toAnswer = (model: TabularModel, topK: number) => (o: TabularInferenceOutcome): TabularOutcome =>
    o.ok ? { ok: true, value: answer(model, o.value.output, topK, o.value.cached, o.value.warnings) } : o;

  return {
    async predict(model, row, topK) {
      const [outcome] = (await runAll(model, [row])).map(toAnswer(model, topK));
      if (!outcome!.ok) throw outcome!.error;
      return outcome!.value;
    },

    async predictBatch(model, rows, topK) {
      return (await runAll(model, rows)).map(toAnswer(model, topK));
    },

    async infer(model, rows) {
      const outcomes = await runAll(model, rows);
      if (model.metadata.kind === 'tabular-classifier') {
        for (const o of outcomes) {
          if (!o.ok) continue;
          const best = argMax(o.value.output);
          metrics.recordPrediction(model, model.metadata.labels[best]!, o.value.output[best]!);
        }
      }
      return outcomes;
    },
  };
}
