/** Model instances for the scheduler: in the calling thread, or in a worker thread. */
import type { Worker } from 'node:worker_threads';
import type { ImageClassifier } from './classifier.js';
import type { InferenceReply, WorkerOptions } from './inference-worker.js';
import { ExecutorCrashedError, type Executor } from './scheduler.js';
import { startWorker } from './threads.js';

/** Runs batches on the main thread (the naive design, INFERENCE_WORKERS=0). */
export class InThreadExecutor implements Executor {
  readonly healthy = true;
  readonly name = 'main';

  constructor(private readonly model: ImageClassifier) {}

  run(batch: Float32Array, n: number): Promise<Float32Array> {
    return this.model.classifyPacked(batch, n);
  }
}

interface Waiting {
  resolve: (probs: Float32Array) => void;
  reject: (err: unknown) => void;
}

/** Runs batches in a worker thread; input buffers are transferred, not copied. */
export class WorkerExecutor implements Executor {
  healthy = true;
  private stopping = false;
  private nextId = 0;
  private readonly waiting = new Map<number, Waiting>();

  private constructor(
    private readonly worker: Worker,
    readonly name: string,
    readonly backend: string,
    onDeath: (executor: WorkerExecutor, reason: string) => void,
  ) {
    worker.on('message', (reply: InferenceReply) => {
      if (reply.type === 'ready') return;
      const w = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if (reply.type === 'result') w?.resolve(reply.probs);
      else w?.reject(new Error(reply.message));
    });
    const die = (reason: string): void => {
      const crashed = this.healthy && !this.stopping;
      this.healthy = false;
      for (const w of this.waiting.values()) w.reject(new ExecutorCrashedError(name, reason));
      this.waiting.clear();
      if (crashed) onDeath(this, reason);
    };
    worker.on('error', (err) => die(err.message));
    worker.on('exit', (code) => die(`exited with code ${code}`));
  }

  /** Start a worker, load and warm the model in it, and resolve once it is ready. */
  static start(
    name: string,
    opts: WorkerOptions,
    onDeath: (executor: WorkerExecutor, reason: string) => void,
  ): Promise<WorkerExecutor> {
    const worker = startWorker(import.meta.url, 'inference-worker', opts);
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      const onExit = (code: number): void => reject(new Error(`inference worker ${name} exited with code ${code} while starting`));
      worker.once('error', onError);
      worker.once('exit', onExit);
      worker.once('message', (reply: InferenceReply) => {
        worker.off('error', onError);
        worker.off('exit', onExit);
        if (reply.type !== 'ready') return reject(new Error(`inference worker ${name}: unexpected ${reply.type}`));
        resolve(new WorkerExecutor(worker, name, reply.backend, onDeath));
      });
    });
  }

  run(batch: Float32Array, n: number): Promise<Float32Array> {
    if (!this.healthy) return Promise.reject(new ExecutorCrashedError(this.name, 'not running'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ id, batch, n }, [batch.buffer as ArrayBuffer]);
    });
  }

  /** Stop the worker (not a crash: no replacement). */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.worker.terminate();
  }

  /** For tests: kill the worker as a crash would. */
  crash(): void {
    void this.worker.terminate();
  }
}
