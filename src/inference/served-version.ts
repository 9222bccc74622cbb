/**
 * One version of a model as the service runs it: its metadata on the main thread, its copy in
 * every thread of the shared pool, and its own dynamic-batching scheduler in front of them.
 */
import type { AnyMetadata } from '../kinds/metadata.js';
import type { ModelSpec, RuntimeName } from '../runtimes/runtime.js';
import type { ModelSignature } from '../runtimes/tfjs/classifier.js';
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

export class ServedVersion<M extends AnyMetadata = AnyMetadata> {
  private disposed = false;

  private constructor(
    readonly ref: VersionRef,
    readonly metadata: M,
    readonly signature: ModelSignature,
    /** The runtime serving it, and its backend (TF.js: tensorflow | wasm | cpu; ONNX Runtime: cpu). */
    readonly runtime: RuntimeName,
    readonly backend: string,
    readonly loadSeconds: number,
    private readonly key: string,
    private readonly pool: InstancePool,
    private readonly scheduler: BatchScheduler,
  ) {}

  /** Load `spec` into every thread of `pool` (warmed) and put a scheduler in front of it. */
  static async load<M extends AnyMetadata>(
    ref: VersionRef,
    spec: ModelSpec,
    metadata: M,
    pool: InstancePool,
    batching: BatchingOptions,
    onBatch?: (event: BatchEvent) => void,
  ): Promise<ServedVersion<M>> {
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
    const backend = spec.runtime === 'onnx' ? 'cpu' : pool.backend;
    return new ServedVersion(ref, metadata, signature, spec.runtime, backend, (performance.now() - started) / 1000, key, pool, scheduler);
  }

  get name(): string {
    return this.ref.name;
  }

  get version(): string {
    return this.ref.version;
  }

  get kind(): M['kind'] {
    return this.metadata.kind;
  }

  /** Class labels of a classifier (none for a regressor). */
  get labels(): readonly string[] {
    return 'labels' in this.metadata ? this.metadata.labels : [];
  }

  /** The model's outputs for each input; the inputs may share batches with other requests. */
  classify(inputs: readonly Float32Array[]): Promise<Float32Array[]> {
    return this.scheduler.submitAll(inputs);
  }

  stats(): SchedulerStats {
    return this.scheduler.stats();
  }

  /** Whether this version is of kind `kind` (narrows its metadata). */
  is<K extends AnyMetadata['kind']>(kind: K): this is ServedVersion<Extract<AnyMetadata, { kind: K }>> {
    return this.metadata.kind === kind;
  }

  /** Stop taking work and free the version in every thread (call once it has drained). */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.scheduler.close();
    this.pool.unload(this.key);
  }
}
