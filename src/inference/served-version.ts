/**
 * One version of a model as the service runs it: its metadata on the main thread, its copy in
 * every thread of the shared pool, and its own dynamic-batching scheduler in front of them.
 */
import { DescribedModel, inputSizeOf, type ModelMetadata } from './metadata.js';
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

export class ServedVersion extends DescribedModel {
  private disposed = false;

  private constructor(
    readonly ref: VersionRef,
    metadata: ModelMetadata,
    readonly backend: string,
    readonly loadSeconds: number,
    private readonly key: string,
    private readonly pool: InstancePool,
    private readonly scheduler: BatchScheduler,
  ) {
    super(metadata);
  }

  /** Load `dir` into every thread of `pool` (warmed) and put a scheduler in front of it. */
  static async load(
    ref: VersionRef,
    dir: string,
    metadata: ModelMetadata,
    pool: InstancePool,
    batching: BatchingOptions,
    onBatch?: (event: BatchEvent) => void,
  ): Promise<ServedVersion> {
    const started = performance.now();
    const key = `${ref.name}/${ref.version}@${ref.revision}`;
    await pool.load(key, dir);
    const scheduler = new BatchScheduler(pool.executors(key), {
      ...batching,
      inputSize: inputSizeOf(metadata),
      numClasses: metadata.labels.length,
    });
    if (onBatch) scheduler.onBatch = onBatch;
    return new ServedVersion(ref, metadata, pool.backend, (performance.now() - started) / 1000, key, pool, scheduler);
  }

  get name(): string {
    return this.ref.name;
  }

  get version(): string {
    return this.ref.version;
  }

  /** Class probabilities for each input; the inputs may share batches with other requests. */
  classify(inputs: readonly Float32Array[]): Promise<Float32Array[]> {
    return this.scheduler.submitAll(inputs);
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
