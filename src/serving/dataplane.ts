/**
 * The dataplane, Fastify-free: the only way any protocol reaches a model. It holds the
 * version a request goes to (traffic policy, sticky client key, explicit version), looks up and
 * fills the prediction cache, prepares inputs through the version's kind, schedules them on the
 * version's batcher, records per-version traffic statistics, mirrors to a shadow version once
 * the answer is out, and runs explanations in a bounded number of slots. It never names a kind
 * or a protocol; errors are ServingErrors.
 */
import { cacheKey, type PredictionCache } from '../cache/prediction-cache.js';
import type { ServedVersion } from '../inference/served-version.js';
import type { Explanation, ExplainRequest, Summary } from '../kinds/kind.js';
import type { ServiceMetrics } from '../metrics/service-metrics.js';
import type { ModelRepository } from '../repository/repository.js';
import type { Lease } from '../repository/types.js';
import { asServingError, ServingError, type Outcome } from './errors.js';
import type { Role, TrafficRouter } from './traffic-router.js';

export interface DataplaneDeps {
  repository: ModelRepository<ServedVersion>;
  traffic: TrafficRouter;
  cache: PredictionCache | null;
  metrics: ServiceMetrics;
  /** Inputs per model call of an explanation (MAX_BATCH_SIZE). */
  maxBatch: number;
  /** Explanations at once (EXPLAIN_CONCURRENCY); more are refused as busy. */
  explainConcurrency: number;
}

/** Where a request goes: a model, and a version or (none named) the model's traffic policy. */
export interface Target {
  name: string;
  version?: string;
  /** Sticky traffic policies assign a client by this key. */
  clientKey?: string;
  /** Follow the traffic policy when no version is named (predictions do; explanations go to the default version). */
  routed?: boolean;
}

/** The model's answer for one input. */
export interface Inference {
  output: Float32Array;
  /** Answered from the prediction cache, without preparing or running the model. */
  cached: boolean;
  warnings: string[];
  /** The kind's note (an image's real format). */
  note?: string;
  summary: Summary;
}

interface Computed extends Inference {
  /** The prepared model input (absent for a cache hit): a version with the same contract can reuse it. */
  tensor?: Float32Array;
}

/** The input's values are too extreme for the model; its warnings name the suspects (values outside the training range). */
const nonFiniteOutput = (warnings: readonly string[] = []): ServingError =>
  new ServingError('unprocessable', 'non-finite-output', `the model gives no finite answer for this input: its values are too extreme for the model${warnings.length > 0 ? ` (${warnings.join('; ')})` : ''}`);

export class Dataplane {
  private explaining = 0;

  constructor(private readonly deps: DataplaneDeps) {}

  get cacheEnabled(): boolean {
    return this.deps.cache !== null;
  }

  /** Hold the version `target` goes to for one request; release the exchange when it is answered. */
  hold(target: Target): Exchange {
    const { repository, traffic } = this.deps;
    if (target.routed === false || target.version !== undefined) return new Exchange(this, repository.acquire(target.name, target.version));
    const { lease, role } = traffic.acquire(target.name, undefined, target.clientKey);
    return new Exchange(this, lease, role);
  }

  /**
   * Every input's output: cache hits first, then the rest through the model as one batch. An
   * input that cannot be used fails alone; a model that cannot run fails the whole call. Once
   * `signal` aborts (the caller's deadline passed, or it went away), inputs not yet running
   * are dropped and the call fails with the scheduler's RequestAbortedError.
   */
  async compute(model: ServedVersion, inputs: readonly Outcome<unknown>[], signal?: AbortSignal): Promise<Outcome<Computed>[]> {
    const { cache, metrics } = this.deps;
    type Step = { done: Outcome<Computed> } | { key: string | undefined; warnings: string[]; found: string[]; tensor: Float32Array; note?: string };
    const steps = await Promise.all(
      inputs.map(async (input): Promise<Step> => {
        if (!input.ok) return { done: input };
        try {
          const inspected = model.kind.inspect(input.value);
          for (const w of inspected.warnings) if (w.feature) metrics.recordOutOfRange(model, w.feature);
          const warnings = inspected.warnings.map((w) => w.message);
          let key: string | undefined;
          if (cache) {
            key = cacheKey(inspected.key.bytes, model.ref, inspected.key.variant);
            const hit = await cache.get(key);
            metrics.recordCacheLookup(cache.kind, hit !== undefined);
            if (hit) {
              const output = Float32Array.from(hit.output);
              return { done: { ok: true, value: { output, cached: true, warnings: [...warnings, ...(hit.warnings ?? [])], ...(hit.note !== undefined && { note: hit.note }), summary: model.kind.summarize(output) } } };
            }
          }
          const started = performance.now();
          try {
            const prepared = await inspected.prepare();
            // Warnings found only while reading the input are cached with its output.
            const found = (prepared.warnings ?? []).map((w) => w.message);
            return { key, warnings: [...warnings, ...found], found, tensor: prepared.tensor, ...(prepared.note !== undefined && { note: prepared.note }) };
          } finally {
            metrics.recordPreprocess(model, (performance.now() - started) / 1000);
          }
        } catch (err) {
          return { done: { ok: false, error: asServingError(err) } };
        }
      }),
    );
    const runs = steps.flatMap((s) => ('done' in s ? [] : [s]));
    let outputs: Float32Array[] = [];
    if (runs.length > 0) {
      try {
        outputs = await model.run(runs.map((r) => r.tensor), signal);
      } catch (err) {
        throw asServingError(err);
      }
    }
    let next = 0;
    return steps.map((step): Outcome<Computed> => {
      if ('done' in step) return step.done;
      const output = outputs[next++]!;
      // An input the model cannot compute with (values too extreme for it) fails alone, with a client error.
      if (!output.every(Number.isFinite)) return { ok: false, error: nonFiniteOutput(step.warnings) };
      if (cache && step.key) void cache.set(step.key, { output: Array.from(output), ...(step.note !== undefined && { note: step.note }), ...(step.found.length > 0 && { warnings: step.found }) });
      return { ok: true, value: { output, cached: false, warnings: step.warnings, tensor: step.tensor, ...(step.note !== undefined && { note: step.note }), summary: model.kind.summarize(output) } };
    });
  }

  /** Run `plan` in one of the explanation slots, or refuse at once when all are taken. */
  async explain(model: ServedVersion, input: unknown, request: ExplainRequest): Promise<Explanation> {
    const { metrics, maxBatch, explainConcurrency } = this.deps;
    const plan = model.kind.planExplanation(input, request);
    if (this.explaining >= explainConcurrency) {
      metrics.recordExplanationRefused();
      throw new ServingError('busy', 'explanations-busy', `${this.explaining} explanations are running, the limit (EXPLAIN_CONCURRENCY); retry shortly`, { retryAfterS: 1 });
    }
    this.explaining++;
    metrics.setExplanationsInFlight(this.explaining);
    const started = performance.now();
    try {
      // The model on many inputs, MAX_BATCH_SIZE at a time through the version's batcher.
      const evaluate = async (xs: Float32Array[]): Promise<Float32Array[]> => {
        const out: Float32Array[] = [];
        try {
          for (let i = 0; i < xs.length; i += maxBatch) out.push(...(await model.run(xs.slice(i, i + maxBatch))));
        } catch (err) {
          throw asServingError(err);
        }
        if (!out.every((o) => o.every(Number.isFinite))) throw nonFiniteOutput();
        return out;
      };
      const result = await plan.run(evaluate);
      metrics.recordExplanation(model, plan.method, (performance.now() - started) / 1000, result.evaluations);
      return result;
    } finally {
      this.explaining--;
      metrics.setExplanationsInFlight(this.explaining);
    }
  }

  /** The per-input bookkeeping of an answered call: class counters, and the traffic statistics of a routed request. */
  record(model: ServedVersion, role: Role | undefined, seconds: number, outcomes: readonly Outcome<Inference>[]): void {
    for (const o of outcomes) {
      if (o.ok && 'label' in o.value.summary) this.deps.metrics.recordPrediction(model, o.value.summary.label, o.value.summary.confidence);
      if (role) this.deps.traffic.record(model.name, model.version, role, seconds, o.ok ? o.value.summary : undefined);
    }
  }

  /** A routed request that failed before any of its inputs ran (an unreadable body): one error for its version. */
  recordFailure(model: ServedVersion, role: Role, seconds: number): void {
    this.deps.traffic.record(model.name, model.version, role, seconds, undefined);
  }

  /** After the answer was sent: copy the request's inputs to the shadow version, if the policy has one. */
  mirror(model: ServedVersion, inputs: readonly Outcome<unknown>[], results: readonly Outcome<Computed>[]): void {
    const answered = results.flatMap((r, i) => (r.ok ? [{ input: inputs[i]!, result: r.value }] : []));
    if (answered.length === 0) return;
    this.deps.traffic.mirror(model.name, { version: model.version, outputs: answered.map((a) => a.result.output) }, async (shadow) => {
      if (shadow.kind.kind !== model.kind.kind) throw new Error(`the shadow version is a ${shadow.kind.kind}, not a ${model.kind.kind}`);
      // The prepared inputs again when both versions prepare alike (no second decoding), else the inputs.
      const tensors = answered.map((a) => a.result.tensor);
      if (shadow.kind.contract === model.kind.contract && tensors.every((t) => t !== undefined)) return shadow.run(tensors);
      const outcomes = await this.compute(shadow, answered.map((a) => a.input));
      return outcomes.map((o) => {
        if (!o.ok) throw o.error;
        return o.value.output;
      });
    });
  }
}

/** One request's hold on a version: run inputs, explain, then release; shadow copies go once the answer is sent. */
export class Exchange {
  private readonly started = performance.now();
  private recorded = false;
  private pendingMirror: (() => void) | undefined;

  constructor(
    private readonly plane: Dataplane,
    private readonly lease: Lease<ServedVersion>,
    /** Set when the traffic policy chose the version (an unversioned prediction). */
    readonly role?: 'primary' | 'canary',
  ) {}

  get model(): ServedVersion {
    return this.lease.value;
  }

  /** Every input's answer (an input that cannot be used fails alone), counted and, once sent, mirrored; see Dataplane.compute for `signal`. */
  async infer(inputs: readonly Outcome<unknown>[], signal?: AbortSignal): Promise<Outcome<Inference>[]> {
    const results = await this.plane.compute(this.model, inputs, signal);
    this.plane.record(this.model, this.role, (performance.now() - this.started) / 1000, results);
    this.recorded = true;
    if (this.role) this.pendingMirror = () => this.plane.mirror(this.model, inputs, results);
    return results;
  }

  explain(input: unknown, request: ExplainRequest): Promise<Explanation> {
    return this.plane.explain(this.model, input, request);
  }

  /** The answer has been sent: a shadow copy may run now (never before it). */
  sent(): void {
    const mirror = this.pendingMirror;
    this.pendingMirror = undefined;
    mirror?.();
  }

  /** Let the version go; a routed request that failed before any input ran counts as one error. */
  release(): void {
    if (this.role && !this.recorded) this.plane.recordFailure(this.model, this.role, (performance.now() - this.started) / 1000);
    this.recorded = true;
    this.lease.release();
  }
}
