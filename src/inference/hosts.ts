/** Inference hosts: a thread that holds model versions and runs one batch at a time for any of them. */
import type { Worker } from 'node:worker_threads';
import type { BackendChoice } from '../runtimes/tfjs/backend-choice.js';
import type { LoadedModel, ModelSpec } from '../runtimes/runtime.js';
import type { WorkerReply, WorkerRequest } from './inference-worker.js';
import { ExecutorCrashedError } from './scheduler.js';
import { threadCpuSeconds } from './thread-cpu.js';
import { startWorker } from './threads.js';

export interface Host {
  readonly name: string;
  readonly backend: string;
  /** Why TF.js is not on its native backend, when `auto` fell back (null otherwise). */
  readonly nativeMissing: string | null;
  /** False once the thread is gone: it gets no more batches. */
  readonly healthy: boolean;
  /** Load (and warm) a model with its runtime under `key`. */
  load(key: string, spec: ModelSpec, warmupRuns: number): Promise<void>;
  unload(key: string): void;
  /** Class probabilities (n × classes) for `n` inputs packed in `batch` (which it may take over). */
  run(key: string, batch: Float32Array, n: number): Promise<Float32Array>;
  stop(): Promise<void>;
  /** For tests: end the thread as a crash would. */
  crash(): void;
  /** CPU seconds the host's own thread has used (NaN: the calling thread's, or not known here). */
  cpuSeconds(): number;
}

/** The calling thread (INFERENCE_WORKERS=0: the naive design). */
export class InThreadHost implements Host {
  readonly healthy = true;
  readonly name = 'main';
  private readonly models = new Map<string, LoadedModel>();

  private constructor(
    readonly backend: string,
    readonly nativeMissing: string | null,
  ) {}

  static async start(choice: BackendChoice): Promise<InThreadHost> {
    // Loaded only here: with worker threads the main thread never needs TF.js (~50 MB).
    const { initBackend, nativeBackendMissing } = await import('../runtimes/tfjs/backend.js');
    const backend = await initBackend(choice);
    return new InThreadHost(backend, nativeBackendMissing());
  }

  async load(key: string, spec: ModelSpec, warmupRuns: number): Promise<void> {
    const { loadModel } = await import('../runtimes/runtime.js');
    const model = await loadModel(spec, warmupRuns);
    this.models.get(key)?.dispose();
    this.models.set(key, model);
  }

  unload(key: string): void {
    this.models.get(key)?.dispose();
    this.models.delete(key);
  }

  run(key: string, batch: Float32Array, n: number): Promise<Float32Array> {
    const model = this.models.get(key);
    if (!model) return Promise.reject(new Error(`model ${key} is not loaded`));
    return model.run(batch, n);
  }

  async stop(): Promise<void> {
    for (const key of [...this.models.keys()]) this.unload(key);
  }

  crash(): void {
    throw new Error('the in-thread host cannot crash');
  }

  /** Not told apart: the calling thread also serves HTTP. */
  cpuSeconds(): number {
    return Number.NaN;
  }
}

interface Waiting {
  resolve: (value: Float32Array | undefined) => void;
  reject: (err: unknown) => void;
}

/** A worker thread; inputs are transferred, not copied. */
export class WorkerHost implements Host {
  healthy = true;
  private stopping = false;
  private exited = false;
  private nextId = 0;
  private readonly waiting = new Map<number, Waiting>();
  /** The last CPU reading: what the thread used, once it is gone. */
  private lastCpuSeconds = 0;

  private constructor(
    private readonly worker: Worker,
    readonly name: string,
    readonly backend: string,
    readonly nativeMissing: string | null,
    private readonly tid: number | null,
    onDeath: (host: WorkerHost, reason: string) => void,
  ) {
    worker.on('message', (reply: WorkerReply) => {
      if (reply.type === 'ready') return;
      const w = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if (reply.type === 'result') w?.resolve(reply.probs);
      else if (reply.type === 'loaded') w?.resolve(undefined);
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
    worker.on('exit', (code) => {
      this.exited = true;
      die(`exited with code ${code}`);
    });
  }

  /** Start a thread with its backend; resolves once it is ready for models. */
  static start(name: string, backend: BackendChoice, nice: number, onDeath: (host: WorkerHost, reason: string) => void): Promise<WorkerHost> {
    const worker = startWorker(import.meta.url, 'inference-worker', { backend, nice });
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      const onExit = (code: number): void => reject(new Error(`inference thread ${name} exited with code ${code} while starting`));
      worker.once('error', onError);
      worker.once('exit', onExit);
      worker.once('message', (reply: WorkerReply) => {
        worker.off('error', onError);
        worker.off('exit', onExit);
        if (reply.type !== 'ready') return reject(new Error(`inference thread ${name}: unexpected ${reply.type}`));
        resolve(new WorkerHost(worker, name, reply.backend, reply.nativeMissing, reply.tid, onDeath));
      });
    });
  }

  private call(request: WorkerRequest & { id: number }, transfer: ArrayBuffer[] = []): Promise<Float32Array | undefined> {
    if (!this.healthy) return Promise.reject(new ExecutorCrashedError(this.name, 'not running'));
    return new Promise((resolve, reject) => {
      this.waiting.set(request.id, { resolve, reject });
      this.worker.postMessage(request, transfer);
    });
  }

  async load(key: string, spec: ModelSpec, warmupRuns: number): Promise<void> {
    await this.call({ type: 'load', id: this.nextId++, key, spec, warmupRuns });
  }

  unload(key: string): void {
    if (this.healthy) this.worker.postMessage({ type: 'unload', key } satisfies WorkerRequest);
  }

  async run(key: string, batch: Float32Array, n: number): Promise<Float32Array> {
    const probs = await this.call({ type: 'run', id: this.nextId++, key, batch, n }, [batch.buffer as ArrayBuffer]);
    if (!probs) throw new Error('inference thread answered a batch without results');
    return probs;
  }

  /**
   * Stop the thread (not a crash: no replacement). It is asked to end between tasks, after
   * the batch or load it is running; only a thread that does not end within `graceMs` is
   * terminated from outside.
   */
  async stop(graceMs = 5_000): Promise<void> {
    this.stopping = true;
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage({ type: 'stop' } satisfies WorkerRequest);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
    if ((await Promise.race([exited, late])) === 'late') await this.worker.terminate();
    clearTimeout(timer);
  }

  /** For tests: the thread exits as a fault would (between tasks, as stop does). */
  crash(): void {
    this.worker.postMessage({ type: 'crash' } satisfies WorkerRequest);
  }

  /** The thread's CPU seconds: its runtime's work, and the receiving and posting of each batch. */
  cpuSeconds(): number {
    if (this.tid === null) return Number.NaN;
    const now = this.exited ? Number.NaN : threadCpuSeconds(this.tid);
    if (Number.isFinite(now)) this.lastCpuSeconds = now;
    return this.lastCpuSeconds;
  }
}
