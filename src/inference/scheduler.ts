/**
 * Dynamic batching: concurrent requests queue, and whenever a model instance is free the
 * queued inputs run through it as one batched tensor (Triton's dynamic batcher, TF Serving's
 * batching session). The queue is bounded: past MAX_QUEUE a request fails at once.
 */

/** A model instance: runs one batch at a time. */
export interface Executor {
  /** The model's outputs for `n` inputs packed in `batch` (which it may take over), n × outputs. */
  run(batch: Float32Array, n: number): Promise<Float32Array>;
  readonly name: string;
  /** False once the instance is gone (a dead worker): it gets no more batches. */
  readonly healthy: boolean;
}

/** The instance died while running a batch; its inputs are retried once on another instance. */
export class ExecutorCrashedError extends Error {
  constructor(
    name: string,
    /** Why it stopped: `killed by SIGABRT`, `exited with code 1`, a batch past its time … */
    readonly reason: string,
  ) {
    super(`inference instance ${name} stopped: ${reason}`);
    this.name = 'ExecutorCrashedError';
  }
}

export interface SchedulerOptions {
  maxBatchSize: number;
  /** How long a partial batch may wait for more inputs while an instance is free (0: never). */
  maxDelayMs: number;
  /** Most inputs waiting; beyond it `submit` rejects with QueueFullError. */
  maxQueue: number;
  inputSize: number;
  numClasses: number;
}

export class QueueFullError extends Error {
  constructor(readonly queued: number) {
    super(`the inference queue is full (${queued} inputs waiting)`);
    this.name = 'QueueFullError';
  }
}

export class SchedulerClosedError extends Error {
  constructor() {
    super('the inference scheduler is shut down');
    this.name = 'SchedulerClosedError';
  }
}

/**
 * The caller gave up before the model ran its input (a passed deadline, a cancelled call): the
 * input left the queue without running, freeing its place.
 */
export class RequestAbortedError extends Error {
  constructor(readonly why: 'deadline' | 'cancelled') {
    super(why === 'deadline' ? 'the call\'s deadline passed while it waited for the model; it did not run' : 'the call was cancelled while it waited for the model; it did not run');
    this.name = 'RequestAbortedError';
  }
}

/** Why a signal was aborted, as RequestAbortedError names it: 'deadline' if its reason says so, else 'cancelled'. */
const abortedBy = (signal: AbortSignal): RequestAbortedError => new RequestAbortedError(signal.reason === 'deadline' ? 'deadline' : 'cancelled');

interface Pending {
  input: Float32Array;
  enqueued: number;
  retried?: boolean;
  resolve: (probs: Float32Array) => void;
  reject: (err: unknown) => void;
}

export interface BatchEvent {
  size: number;
  /** Seconds the oldest input of the batch waited in the queue. */
  queueSeconds: number;
  computeSeconds: number;
  executor: string;
}

export interface SchedulerStats {
  queued: number;
  inFlightBatches: number;
  batches: number;
  inputs: number;
  /** Inputs that left the queue unrun because their caller gave up (deadline, cancellation). */
  aborted: number;
}

export class BatchScheduler {
  private readonly queue: Pending[] = [];
  private readonly idle: Executor[];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private inFlight = 0;
  private batches = 0;
  private inputs = 0;
  private aborted = 0;
  /** Called after every batch (metrics). */
  onBatch: (event: BatchEvent) => void = () => {};

  constructor(
    executors: readonly Executor[],
    private readonly opts: SchedulerOptions,
  ) {
    if (executors.length === 0) throw new Error('a scheduler needs at least one executor');
    this.idle = [...executors];
  }

  /**
   * Queue one input; resolves with the model's outputs for it. Once `signal` aborts, an input
   * still waiting leaves the queue and rejects with RequestAbortedError (one already in a batch
   * runs to the end; its answer is dropped by the caller).
   */
  submit(input: Float32Array, signal?: AbortSignal): Promise<Float32Array> {
    if (this.closed) return Promise.reject(new SchedulerClosedError());
    if (signal?.aborted) return Promise.reject(abortedBy(signal));
    if (input.length !== this.opts.inputSize) {
      return Promise.reject(new RangeError(`input has ${input.length} values, expected ${this.opts.inputSize}`));
    }
    if (this.queue.length >= this.opts.maxQueue) return Promise.reject(new QueueFullError(this.queue.length));
    return new Promise((resolve, reject) => {
      if (!signal) {
        this.queue.push({ input, enqueued: performance.now(), resolve, reject });
        return this.pump();
      }
      const onAbort = (): void => {
        const at = this.queue.indexOf(pending);
        if (at < 0) return;
        this.queue.splice(at, 1);
        this.aborted++;
        reject(abortedBy(signal));
      };
      const pending: Pending = {
        input,
        enqueued: performance.now(),
        resolve: (probs) => {
          signal.removeEventListener('abort', onAbort);
          resolve(probs);
        },
        reject: (err) => {
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.queue.push(pending);
      this.pump();
    });
  }

  /** Queue several inputs; they may share batches with other requests. */
  submitAll(inputs: readonly Float32Array[], signal?: AbortSignal): Promise<Float32Array[]> {
    if (this.queue.length + inputs.length > this.opts.maxQueue) return Promise.reject(new QueueFullError(this.queue.length));
    return Promise.all(inputs.map((i) => this.submit(i, signal)));
  }

  stats(): SchedulerStats {
    return { queued: this.queue.length, inFlightBatches: this.inFlight, batches: this.batches, inputs: this.inputs, aborted: this.aborted };
  }

  /** Add an instance (a replacement for one that died). */
  add(executor: Executor): void {
    if (this.closed) return;
    this.idle.push(executor);
    this.pump();
  }

  /** Fail everything still queued; batches in flight finish. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const p of this.queue.splice(0)) p.reject(new SchedulerClosedError());
  }

  private pump(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const full = this.queue.length >= this.opts.maxBatchSize;
      const waited = performance.now() - this.queue[0]!.enqueued;
      if (!full && waited < this.opts.maxDelayMs) {
        this.timer ??= setTimeout(() => {
          this.timer = undefined;
          this.pump();
        }, Math.max(0, this.opts.maxDelayMs - waited));
        return;
      }
      this.dispatch(this.idle.shift()!, this.queue.splice(0, this.opts.maxBatchSize));
    }
  }

  private dispatch(executor: Executor, items: Pending[]): void {
    const n = items.length;
    const size = this.opts.inputSize;
    const batch = new Float32Array(n * size);
    items.forEach((p, i) => batch.set(p.input, i * size));
    const started = performance.now();
    const queueSeconds = (started - items[0]!.enqueued) / 1000;
    this.inFlight++;
    executor.run(batch, n).then(
      (probs) => {
        const k = this.opts.numClasses;
        items.forEach((p, i) => p.resolve(probs.slice(i * k, (i + 1) * k)));
        this.finish(executor, { size: n, queueSeconds, computeSeconds: (performance.now() - started) / 1000, executor: executor.name });
      },
      (err: unknown) => {
        const retry = err instanceof ExecutorCrashedError && !this.closed ? items.filter((p) => !p.retried) : [];
        for (const p of items) {
          if (retry.includes(p)) p.retried = true;
          else p.reject(err);
        }
        this.queue.unshift(...retry);
        this.finish(executor, undefined);
      },
    );
  }

  private finish(executor: Executor, event: BatchEvent | undefined): void {
    this.inFlight--;
    if (event) {
      this.batches++;
      this.inputs += event.size;
      this.onBatch(event);
    }
    if (executor.healthy) this.idle.push(executor);
    this.pump();
  }
}
