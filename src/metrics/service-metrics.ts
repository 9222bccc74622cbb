/**
 * The service's Prometheus metrics (prom-client), in a registry of their own so that several
 * apps in one process (tests) do not share counters. Fastify-free: the HTTP plugin and the
 * predictor record into it; `/metrics` renders it.
 */
import { MEMORY_SETTING } from '../inference/hosts.js';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const FAST_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

export interface ServingGauges {
  /** Inputs waiting for a model instance, and batches running, summed over models. */
  queued(): number;
  inFlightBatches(): number;
  /** CPU seconds the inference threads have used (NaN: not known, e.g. inference on the main thread). */
  inferenceCpuSeconds(): number;
  /** Every AVAILABLE version, read at scrape time. */
  models(): ModelInfo[];
  /** The default model's default version (for the JSON summary), or null. */
  defaultModel(): ModelInfo | null;
}

export interface ModelInfo {
  name: string;
  version: string;
  runtime: string;
  backend: string;
  loadSeconds: number;
  labels: readonly string[];
}

/** Everything the JSON form of /metrics reports. */
export interface MetricsSummary {
  total_requests: number;
  total_predictions: number;
  cache_hit_rate: number | null;
  avg_latency_ms: number | null;
  p50_latency_ms: number | null;
  p95_latency_ms: number | null;
  p99_latency_ms: number | null;
  predictions_by_class: Record<string, number>;
  uptime_s: number;
  model: { name: string; version: string; runtime: string; backend: string } | null;
}

/**
 * Observe `value` unless it is not a finite number: prom-client throws on NaN, and an
 * observation must never fail the request that records it.
 */
function observe<L extends string>(histogram: Histogram<L> | Summary<L>, labels: Partial<Record<L, string | number>>, value: number): void {
  if (Number.isFinite(value)) histogram.observe(labels, value);
}

/** The API a request came through: the native REST API, or the Open Inference Protocol over REST (v2) or gRPC. */
export type Protocol = 'native' | 'v2' | 'grpc';

/** The model and version a measurement concerns. */
export interface VersionLabels {
  name: string;
  version: string;
}

/** A host's death as a label of few values: `timeout` (killed for a batch past its time), `memory` (over its ceiling), the signal that ended it, `exit`, or `error`. */
export function restartReason(reason: string): string {
  if (reason.includes('INFERENCE_BATCH_TIMEOUT_MS')) return 'timeout';
  if (reason.includes(MEMORY_SETTING)) return 'memory';
  const signal = /killed by (SIG[A-Z0-9]+)/.exec(reason)?.[1];
  if (signal) return signal;
  return /exited with code/.test(reason) ? 'exit' : 'error';
}

export class ServiceMetrics {
  readonly registry = new Registry();
  private readonly startedAt = performance.now();

  private readonly httpRequests: Counter<'method' | 'route' | 'status_code' | 'protocol'>;
  private readonly httpDuration: Histogram<'method' | 'route' | 'status_code' | 'protocol'>;
  /** Route templates and statuses are few; unmatched URLs all count as one route. */
  private readonly requestSeries = new Map<string, { count: { inc(): void }; duration: { observe(value: number): void } }>();
  /**
   * Successful prediction requests for the JSON summary: percentiles over a sliding window,
   * sum and count since start. Not exported (the histogram is).
   */
  private readonly predictLatency = new Summary({
    name: 'predict_latency_window_seconds',
    help: 'internal',
    percentiles: [0.5, 0.95, 0.99],
    maxAgeSeconds: 600,
    ageBuckets: 5,
    registers: [],
  });
  private readonly batchSize: Histogram<'model' | 'version'>;
  private readonly queueWait: Histogram<'model' | 'version'>;
  private readonly compute: Histogram<'model' | 'version'>;
  private readonly preprocess: Histogram<'model' | 'version'>;
  private readonly predictions: Counter<'model' | 'version' | 'class'>;
  private readonly confidence: Histogram<'model' | 'version'>;
  private readonly loadFailures: Counter<'model' | 'version'>;
  private readonly repositoryErrors: Counter;
  private readonly outOfRange: Counter<'model' | 'version' | 'feature'>;
  private readonly cacheLookups: Counter<'cache' | 'result'>;
  private readonly cacheErrors: Counter<'cache' | 'operation'>;
  private readonly errors: Counter<'code' | 'status_code'>;
  private readonly instanceRestarts: Counter;
  private readonly explanations: Counter<'model' | 'version' | 'method'>;
  private readonly explanationDuration: Histogram<'model' | 'version' | 'method'>;
  private readonly explanationEvaluations: Histogram<'method'>;
  private readonly explanationsRefused: Counter;
  private readonly explanationsInFlight: Gauge;
  private readonly trafficRequests: Counter<'model' | 'version' | 'role'>;
  private readonly trafficErrors: Counter<'model' | 'version' | 'role'>;
  private readonly trafficLatency: Histogram<'model' | 'version' | 'role'>;
  private readonly trafficClasses: Counter<'model' | 'version' | 'role' | 'class'>;
  private readonly trafficConfidence: Histogram<'model' | 'version' | 'role'>;
  private readonly shadowComparisons: Counter<'model' | 'version' | 'shadow_version' | 'agreement'>;
  private readonly shadowAbsDiff: Histogram<'model' | 'version' | 'shadow_version'>;
  private readonly shadowDropped: Counter<'model' | 'version'>;

  constructor(private readonly gauges: ServingGauges, prefix = 'mlapi_') {
    const queue = gauges;
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix });
    this.httpRequests = new Counter({
      name: `${prefix}http_requests_total`,
      help: 'HTTP requests answered, by route template, status code and protocol (native REST or the Open Inference Protocol, v2)',
      labelNames: ['method', 'route', 'status_code', 'protocol'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: `${prefix}http_request_duration_seconds`,
      help: 'Time from request received to response sent',
      labelNames: ['method', 'route', 'status_code', 'protocol'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.batchSize = new Histogram({
      name: `${prefix}inference_batch_size`,
      help: 'Inputs per model call, as formed by the dynamic batcher',
      labelNames: ['model', 'version'],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers,
    });
    this.queueWait = new Histogram({
      name: `${prefix}inference_queue_wait_seconds`,
      help: 'Time the oldest input of a batch waited for a model instance',
      labelNames: ['model', 'version'],
      buckets: FAST_BUCKETS,
      registers,
    });
    this.compute = new Histogram({
      name: `${prefix}inference_compute_seconds`,
      help: 'Time a model instance spent on one batch (worker transfer included)',
      labelNames: ['model', 'version'],
      buckets: FAST_BUCKETS,
      registers,
    });
    this.preprocess = new Histogram({
      name: `${prefix}preprocess_duration_seconds`,
      help: 'Time to prepare one input for its model (an image decoded, resized and normalised; a row standardized)',
      labelNames: ['model', 'version'],
      buckets: FAST_BUCKETS,
      registers,
    });
    new Gauge({
      name: `${prefix}inference_queue_depth`,
      help: 'Inputs waiting for a model instance',
      registers,
      collect() {
        this.set(queue.queued());
      },
    });
    new Gauge({
      name: `${prefix}inference_in_flight_batches`,
      help: 'Batches running on model instances',
      registers,
      collect() {
        this.set(queue.inFlightBatches());
      },
    });
    new Counter({
      name: `${prefix}inference_thread_cpu_seconds_total`,
      help: 'CPU time of the inference worker threads (Linux): the runtimes computing batches, and each batch received and answered; ONNX Runtime intra-op threads beyond the first (ONNX_INTRA_OP_THREADS > 1) not included; absent when inference runs on the main thread',
      registers,
      collect() {
        const seconds = gauges.inferenceCpuSeconds();
        this.reset();
        if (Number.isFinite(seconds)) this.inc(seconds);
      },
    });
    new Gauge({
      name: `${prefix}model_load_seconds`,
      help: 'Time to load, warm up and check each available model version',
      labelNames: ['model', 'version'],
      registers,
      collect() {
        this.reset();
        for (const m of gauges.models()) this.set({ model: m.name, version: m.version }, m.loadSeconds);
      },
    });
    new Gauge({
      name: `${prefix}model_info`,
      help: 'Each available model version (value 1), with the runtime and backend serving it',
      labelNames: ['model', 'version', 'runtime', 'backend'],
      registers,
      collect() {
        this.reset();
        for (const m of gauges.models()) this.set({ model: m.name, version: m.version, runtime: m.runtime, backend: m.backend }, 1);
      },
    });
    this.loadFailures = new Counter({
      name: `${prefix}model_load_failures_total`,
      help: 'Model versions that failed to load or to pass their check (the previous version kept serving)',
      labelNames: ['model', 'version'],
      registers,
    });
    this.outOfRange = new Counter({
      name: `${prefix}feature_out_of_range_total`,
      help: 'Tabular feature values outside the range seen in training (answered, with a warning): input drift',
      labelNames: ['model', 'version', 'feature'],
      registers,
    });
    this.repositoryErrors = new Counter({
      name: `${prefix}model_repository_errors_total`,
      help: 'Scans of the model repository that failed (store down or unreadable); retried with backoff',
      registers,
    });
    this.predictions = new Counter({
      name: `${prefix}predictions_total`,
      help: 'Inputs classified, by predicted class (cache hits included): the input mix',
      labelNames: ['model', 'version', 'class'],
      registers,
    });
    this.confidence = new Histogram({
      name: `${prefix}prediction_confidence`,
      help: 'Top-1 probability of each prediction; a shift to lower values signals drift',
      labelNames: ['model', 'version'],
      buckets: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1],
      registers,
    });
    this.cacheLookups = new Counter({
      name: `${prefix}cache_lookups_total`,
      help: 'Prediction cache lookups by result (hit or miss)',
      labelNames: ['cache', 'result'],
      registers,
    });
    this.cacheErrors = new Counter({
      name: `${prefix}cache_errors_total`,
      help: 'Cache commands that failed or timed out (the request went on without the cache)',
      labelNames: ['cache', 'operation'],
      registers,
    });
    this.errors = new Counter({
      name: `${prefix}errors_total`,
      help: 'Error responses by problem code',
      labelNames: ['code', 'status_code'],
      registers,
    });
    this.explanations = new Counter({
      name: `${prefix}explanations_total`,
      help: 'Explanations computed, by model version and method',
      labelNames: ['model', 'version', 'method'],
      registers,
    });
    this.explanationDuration = new Histogram({
      name: `${prefix}explanation_duration_seconds`,
      help: 'Time to compute one explanation (all its model evaluations)',
      labelNames: ['model', 'version', 'method'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.explanationEvaluations = new Histogram({
      name: `${prefix}explanation_evaluations`,
      help: 'Model evaluations one explanation cost (occlusion: patch positions + 1; Shapley: 2^features)',
      labelNames: ['method'],
      buckets: [1, 16, 64, 128, 256, 512, 1024, 2048, 4096],
      registers,
    });
    this.explanationsRefused = new Counter({
      name: `${prefix}explanations_refused_total`,
      help: 'Explanations refused with 503 because EXPLAIN_CONCURRENCY were already running',
      registers,
    });
    this.explanationsInFlight = new Gauge({
      name: `${prefix}explanations_in_flight`,
      help: 'Explanations running now (at most EXPLAIN_CONCURRENCY)',
      registers,
    });
    const trafficLabels = ['model', 'version', 'role'] as const;
    this.trafficRequests = new Counter({ name: `${prefix}traffic_requests_total`, help: 'Unversioned prediction requests by the version that answered and its role (primary, canary, shadow)', labelNames: trafficLabels, registers });
    this.trafficErrors = new Counter({ name: `${prefix}traffic_errors_total`, help: 'Those that failed', labelNames: trafficLabels, registers });
    this.trafficLatency = new Histogram({ name: `${prefix}traffic_latency_seconds`, help: 'Their latency, by version and role', labelNames: trafficLabels, buckets: LATENCY_BUCKETS, registers });
    this.trafficClasses = new Counter({ name: `${prefix}traffic_predictions_total`, help: 'Their predicted classes, by version and role', labelNames: [...trafficLabels, 'class'], registers });
    this.trafficConfidence = new Histogram({ name: `${prefix}traffic_confidence`, help: 'Their top-1 probability, by version and role (the mean: _sum / _count)', labelNames: trafficLabels, buckets: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1], registers });
    this.shadowComparisons = new Counter({ name: `${prefix}shadow_comparisons_total`, help: 'Shadow answers compared with the primary answer, by top-1 agreement (agree | disagree)', labelNames: ['model', 'version', 'shadow_version', 'agreement'], registers });
    this.shadowAbsDiff = new Histogram({ name: `${prefix}shadow_abs_diff`, help: 'Mean absolute difference of the probabilities of a shadow answer and its primary answer', labelNames: ['model', 'version', 'shadow_version'], buckets: [0.0001, 0.001, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1], registers });
    this.shadowDropped = new Counter({ name: `${prefix}shadow_dropped_total`, help: 'Shadow requests dropped because the shadow queue was full (or the version could not be held)', labelNames: ['model', 'version'], registers });
    this.instanceRestarts = new Counter({
      name: `${prefix}inference_instance_restarts_total`,
      help: 'Inference hosts (threads or processes) that died and were replaced with every model version they held, by reason: the signal (SIGKILL, SIGABRT …), exit, or error',
      labelNames: ['reason'],
      registers,
    });
  }

  /** A version now serves; its classes start at zero so dashboards see every one. */
  recordModelLoaded(info: ModelInfo): void {
    for (const label of info.labels) this.predictions.inc({ model: info.name, version: info.version, class: label }, 0);
  }

  recordLoadFailure(model: string, version: string): void {
    this.loadFailures.inc({ model, version });
  }

  recordOutOfRange(ref: VersionLabels, feature: string): void {
    this.outOfRange.inc({ model: ref.name, version: ref.version, feature });
  }

  recordRepositoryError(): void {
    this.repositoryErrors.inc();
  }

  /** One HTTP response; `route` is the route template (or `unmatched`). */
  recordRequest(method: string, route: string, status: number, seconds: number, prediction: boolean, protocol: Protocol = 'native'): void {
    // The label set's children, looked up once: prom-client hashes the labels on every call otherwise.
    const key = `${method} ${route} ${status} ${protocol}`;
    let series = this.requestSeries.get(key);
    if (!series) {
      const labels = { method, route, status_code: String(status), protocol };
      series = { count: this.httpRequests.labels(labels), duration: this.httpDuration.labels(labels) };
      this.requestSeries.set(key, series);
    }
    series.count.inc();
    if (Number.isFinite(seconds)) series.duration.observe(seconds);
    if (prediction && (protocol === 'grpc' || status < 400)) observe(this.predictLatency, {}, seconds);
  }

  recordBatch(ref: VersionLabels, size: number, queueSeconds: number, computeSeconds: number): void {
    const labels = { model: ref.name, version: ref.version };
    observe(this.batchSize, labels, size);
    observe(this.queueWait, labels, queueSeconds);
    observe(this.compute, labels, computeSeconds);
  }

  recordPreprocess(ref: VersionLabels, seconds: number): void {
    observe(this.preprocess, { model: ref.name, version: ref.version }, seconds);
  }

  recordPrediction(ref: VersionLabels, label: string, confidence: number): void {
    this.predictions.inc({ model: ref.name, version: ref.version, class: label });
    observe(this.confidence, { model: ref.name, version: ref.version }, confidence);
  }

  recordCacheLookup(cache: string, hit: boolean): void {
    this.cacheLookups.inc({ cache, result: hit ? 'hit' : 'miss' });
  }

  recordCacheError(cache: string, operation: string): void {
    this.cacheErrors.inc({ cache, operation });
  }

  recordError(code: string, status: number): void {
    this.errors.inc({ code, status_code: String(status) });
  }

  recordExplanation(ref: VersionLabels, method: string, seconds: number, evaluations: number): void {
    const labels = { model: ref.name, version: ref.version, method };
    this.explanations.inc(labels);
    observe(this.explanationDuration, labels, seconds);
    observe(this.explanationEvaluations, { method }, evaluations);
  }

  recordExplanationRefused(): void {
    this.explanationsRefused.inc();
  }

  setExplanationsInFlight(n: number): void {
    this.explanationsInFlight.set(n);
  }

  recordTraffic(ref: VersionLabels, role: string, seconds: number, failed: boolean, answer?: { label: string; confidence: number }): void {
    const labels = { model: ref.name, version: ref.version, role };
    this.trafficRequests.inc(labels);
    if (failed) this.trafficErrors.inc(labels);
    observe(this.trafficLatency, labels, seconds);
    if (answer) {
      this.trafficClasses.inc({ ...labels, class: answer.label });
      observe(this.trafficConfidence, labels, answer.confidence);
    }
  }

  recordShadowComparison(primary: VersionLabels, shadowVersion: string, agree: boolean, absDiff: number): void {
    this.shadowComparisons.inc({ model: primary.name, version: primary.version, shadow_version: shadowVersion, agreement: agree ? 'agree' : 'disagree' });
    observe(this.shadowAbsDiff, { model: primary.name, version: primary.version, shadow_version: shadowVersion }, absDiff);
  }

  recordShadowDropped(shadow: VersionLabels): void {
    this.shadowDropped.inc({ model: shadow.name, version: shadow.version });
  }

  /** A host replaced; `reason` is why it died ("killed by SIGKILL", "exited with code 70"). */
  recordInstanceRestart(reason: string): void {
    this.instanceRestarts.inc({ reason: restartReason(reason) });
  }

  /** Prometheus text exposition format. */
  exposition(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The JSON summary, read from the same metrics that /metrics exports. */
  async summary(): Promise<MetricsSummary> {
    const [requests, predictions, lookups, latency] = await Promise.all([
      this.httpRequests.get(),
      this.predictions.get(),
      this.cacheLookups.get(),
      this.predictLatency.get(),
    ]);
    const total = (values: { value: number }[]): number => values.reduce((n, v) => n + v.value, 0);
    const named = (suffix: string): number => latency.values.find((v) => (v as { metricName?: string }).metricName?.endsWith(suffix))?.value ?? 0;
    const quantile = (q: number): number | null => {
      const v = latency.values.find((x) => x.labels.quantile === q)?.value;
      return v === undefined || Number.isNaN(v) ? null : round(v * 1000);
    };
    const byClass: Record<string, number> = {};
    // Classes of the default model (other models have their own labels; /metrics has them all).
    const model = this.gauges.defaultModel();
    for (const v of predictions.values) {
      if (model && v.labels.model !== model.name) continue;
      byClass[String(v.labels.class)] = (byClass[String(v.labels.class)] ?? 0) + v.value;
    }
    const hits = total(lookups.values.filter((v) => v.labels.result === 'hit'));
    const looked = total(lookups.values);
    const count = named('_count');
    return {
      total_requests: total(requests.values),
      total_predictions: total(predictions.values),
      cache_hit_rate: looked === 0 ? null : round(hits / looked, 4),
      avg_latency_ms: count === 0 ? null : round((named('_sum') / count) * 1000),
      p50_latency_ms: quantile(0.5),
      p95_latency_ms: quantile(0.95),
      p99_latency_ms: quantile(0.99),
      predictions_by_class: byClass,
      uptime_s: round((performance.now() - this.startedAt) / 1000, 1),
      model: model && { name: model.name, version: model.version, runtime: model.runtime, backend: model.backend },
    };
  }
}

function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
