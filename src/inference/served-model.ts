/**
 * A model as the service runs it: metadata on the main thread, INFERENCE_WORKERS instances
 * (worker threads, or the main thread when 0) behind a dynamic-batching scheduler.
 */
import type { BackendChoice } from './backend-choice.js';
import type { ImageClassifier } from './classifier.js';
import { InThreadExecutor, WorkerExecutor } from './executors.js';
import { DescribedModel, inputSizeOf, readMetadata, type ModelMetadata } from './metadata.js';
import { BatchScheduler, type BatchEvent, type Executor, type SchedulerStats } from './scheduler.js';

export interface InstanceOptions {
  /** Worker threads, each with a model instance; 0 runs the model on the calling thread. */
  workers: number;
  maxBatchSize: number;
  maxDelayMs: number;
  maxQueue: number;
  backend: BackendChoice;
  warmupRuns: number;
  /** Niceness of the worker threads (Linux: per thread); 0 leaves them at the process's priority. */
  workerNice?: number;
}

export interface ServedModelEvents {
  onBatch?: (model: string, event: BatchEvent) => void;
  onInstanceDeath?: (model: string, instance: string, reason: string) => void;
  onInstanceRestart?: (model: string, instance: string) => void;
}

export class ServedModel extends DescribedModel {
  private disposed = false;

  private constructor(
    metadata: ModelMetadata,
    readonly backend: string,
    readonly loadSeconds: number,
    private readonly scheduler: BatchScheduler,
    private readonly workers: Set<WorkerExecutor>,
    private readonly local: ImageClassifier | undefined,
  ) {
    super(metadata);
  }

  /** Load `dir` into `opts.workers` instances (or one in this thread) and start the scheduler. */
  static async load(dir: string, opts: InstanceOptions, events: ServedModelEvents = {}): Promise<ServedModel> {
    const started = performance.now();
    const metadata = await readMetadata(dir);
    const schedulerOpts = {
      maxBatchSize: opts.maxBatchSize,
      maxDelayMs: opts.maxDelayMs,
      maxQueue: opts.maxQueue,
      inputSize: inputSizeOf(metadata),
      numClasses: metadata.labels.length,
    };
    if (opts.workers === 0) {
      // Loaded only here: with worker instances the main thread never needs TF.js (~50 MB).
      const [{ initBackend }, { ImageClassifier }] = await Promise.all([import('./backend.js'), import('./classifier.js')]);
      const backend = await initBackend(opts.backend);
      const local = await ImageClassifier.load(dir, opts.warmupRuns);
      const scheduler = new BatchScheduler([new InThreadExecutor(local)], schedulerOpts);
      if (events.onBatch) scheduler.onBatch = (e) => events.onBatch?.(metadata.name, e);
      return new ServedModel(local.metadata, backend, (performance.now() - started) / 1000, scheduler, new Set(), local);
    }
    const workers = new Set<WorkerExecutor>();
    // Set once constructed; dying instances before that are not replaced (start-up fails instead).
    const self: { model?: ServedModel } = {};
    const workerOpts = { dir, backend: opts.backend, warmupRuns: opts.warmupRuns, nice: opts.workerNice ?? 0 };
    const onDeath = (dead: WorkerExecutor, reason: string): void => {
      workers.delete(dead);
      events.onInstanceDeath?.(metadata.name, dead.name, reason);
      const model = self.model;
      if (!model || model.disposed) return;
      // Replace it; its batch was already failed over to the other instances.
      WorkerExecutor.start(dead.name, workerOpts, onDeath).then(
        (fresh) => {
          if (model.disposed) return void fresh.stop();
          workers.add(fresh);
          model.scheduler.add(fresh);
          events.onInstanceRestart?.(metadata.name, fresh.name);
        },
        (err: unknown) => events.onInstanceDeath?.(metadata.name, dead.name, `restart failed: ${String(err)}`),
      );
    };
    const executors = await Promise.all(Array.from({ length: opts.workers }, (_, i) => WorkerExecutor.start(`worker-${i}`, workerOpts, onDeath)));
    for (const e of executors) workers.add(e);
    const scheduler = new BatchScheduler(executors as Executor[], schedulerOpts);
    if (events.onBatch) scheduler.onBatch = (e) => events.onBatch?.(metadata.name, e);
    self.model = new ServedModel(metadata, executors[0]!.backend, (performance.now() - started) / 1000, scheduler, workers, undefined);
    return self.model;
  }

  /** Instances currently running (worker threads, or 1 for the in-thread instance). */
  get instances(): number {
    return this.local ? 1 : this.workers.size;
  }

  /** Class probabilities for each input; the inputs may share batches with other requests. */
  classify(inputs: readonly Float32Array[]): Promise<Float32Array[]> {
    return this.scheduler.submitAll(inputs);
  }

  stats(): SchedulerStats {
    return this.scheduler.stats();
  }

  /** For tests: crash one worker instance as a fault would. */
  crashOneInstance(): boolean {
    const victim = this.workers.values().next().value;
    victim?.crash();
    return victim !== undefined;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.scheduler.close();
    await Promise.all([...this.workers].map((w) => w.stop()));
    this.local?.dispose();
  }
}
