/**
 * One version of a model as the service runs it: its kind's behaviour on the main thread, its
 * copy in every thread of the shared pool, and its own dynamic-batching scheduler in front of
 * them.
 */
import type { Evaluation } from '../evaluation/summary.js';
import type { KindModel } from '../kinds/kind.js';
import type { ModelSignature, ModelSpec, RuntimeName } from '../runtimes/runtime.js';
import type { InstancePool } from './pool.js';
import { BatchScheduler, type BatchEvent, type SchedulerStats } from './scheduler.js';

export interface BatchingOptions {
  maxBatchSize: number;
  maxDelayMs: number;
  maxQueue: number;
}

/** Identity of a served version: repository name, version number and a revision of its files. */
export interface VersionRef {
  name: string;
  version: string;
  /** Changes whenever the version's files change (cache keys include it). */
  revision: string;
}

export class ServedVersion {
  private disposed = false;
  /** Its evaluation.json (`npm run evaluate`), when it has one. */
  evaluation: Evaluation | undefined;

  private constructor(
    readonly ref: VersionRef,
    /** What its kind does with inputs and outputs. */
    readonly kind: KindModel,
    readonly signature: ModelSignature,
    /** The runtime serving it, and its backend (TF.js: tensorflow | wasm | cpu; ONNX Runtime: cpu). */
    readonly runtime: RuntimeName,
    readonly backend: string,
    readonly loadSeconds: number,
    /** Its name in the pool: `name/version@revision`. */
    readonly key: string,
    private readonly pool: InstancePool,
    private readonly scheduler: BatchScheduler,
  ) {}

  /** Load `spec` into every thread of `pool` (warmed) and put a scheduler in front of it. */
  static async load(ref: VersionRef, spec: ModelSpec, kind: KindModel, pool: InstancePool, batching: BatchingOptions, onBatch?: (event: BatchEvent) => void): Promise<ServedVersion> {
    const started = performance.now();
    const key = `${ref.name}/${ref.version}@${ref.revision}`;
    const { signature } = spec;
    await pool.load(key, spec);
    const scheduler = new BatchScheduler(pool.executors(key), {
      ...batching,
      inputSize: signature.inputShape.reduce((a, b) => a * b, 1),
      numClasses: signature.outputs,
    });
    if (onBatch) scheduler.onBatch = onBatch;
    const backend = spec.runtime === 'onnx' ? 'cpu' : (pool.backend ?? 'unknown');
    return new ServedVersion(ref, kind, signature, spec.runtime, backend, (performance.now() - started) / 1000, key, pool, scheduler);
  }

  get name(): string {
    return this.ref.name;
  }

  get version(): string {
    return this.ref.version;
  }

  /** Class labels of a classifier (none for a model that answers a value). */
  get labels(): readonly string[] {
    return this.kind.labels;
  }

  /**
   * The model's outputs for each prepared input; the inputs may share batches with other
   * requests. Inputs still queued when `signal` aborts leave unrun (RequestAbortedError).
   */
  run(inputs: readonly Float32Array[], signal?: AbortSignal): Promise<Float32Array[]> {
    return this.scheduler.submitAll(inputs, signal);
  }

  stats(): SchedulerStats {
    return this.scheduler.stats();
  }

  /** Stop taking work and free the version in every thread (call once it has drained). */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.scheduler.close();
    this.pool.unload(this.key);
  }
}
