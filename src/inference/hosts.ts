/**
 * Inference hosts: a thread or a child process that holds model versions and runs one batch
 * at a time for any of them.
 */
import type { ChildProcess } from 'node:child_process';
import type { Worker } from 'node:worker_threads';
import type { BackendChoice } from '../runtimes/tfjs/backend-choice.js';
import type { LoadedModel, ModelSpec } from '../runtimes/runtime.js';
import type { WorkerReply, WorkerRequest } from './inference-worker.js';
import { ExecutorCrashedError } from './scheduler.js';
import { processCpuSeconds, processRssBytes, threadCpuSeconds } from './thread-cpu.js';
import { startProcess, startWorker } from './threads.js';

/** Where hosts run: worker threads of the server's process, or child processes of their own. */
export type HostKind = 'threads' | 'processes';

/**
 * A process host passed its memory ceiling and was replaced: the batch it ran fails (it is not
 * retried: it would pass the ceiling again).
 */
export class HostMemoryError extends Error {
  constructor(
    name: string,
    readonly reason: string,
  ) {
    super(`inference host ${name} was replaced: ${reason}`);
    this.name = 'HostMemoryError';
  }
}

/** The setting a memory reason names. */
export const MEMORY_SETTING = 'INFERENCE_HOST_MEMORY_MB';

/** Signals a process gets from its own fault (a native abort, a bad access), not from outside. */
const FAULT_SIGNALS = ['SIGABRT', 'SIGSEGV', 'SIGBUS', 'SIGILL', 'SIGFPE', 'SIGTRAP', 'SIGSYS'];

/**
 * Whether a host's death was the doing of the work it ran: a native fault, an exit of its own,
 * its memory ceiling. A kill from outside (SIGKILL, SIGTERM: an operator, the kernel's OOM
 * killer) or a batch past its time says nothing about the model.
 */
export function diedOfItsWork(reason: string): boolean {
  if (reason.includes(MEMORY_SETTING)) return true;
  const signal = /killed by (SIG[A-Z0-9]+)/.exec(reason)?.[1];
  return signal !== undefined ? FAULT_SIGNALS.includes(signal) : /exited with code [1-9]/.test(reason);
}

/** A death's reason in a few words: `SIGABRT`, `exit code 70`, or the reason as it is. */
export function deathInBrief(reason: string): string {
  return /killed by (SIG[A-Z0-9]+)/.exec(reason)?.[1] ?? /exited with (code \d+)/.exec(reason)?.[1]?.replace('code', 'exit code') ?? reason;
}


export interface Host {
  readonly name: string;
  /** TF.js's backend, once the host has loaded TF.js (only for a TF.js model; null before). */
  readonly backend: string | null;
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
  /** A process host's process id (null for threads). */
  readonly pid: number | null;
  /** CPU seconds the host's own thread has used (NaN: the calling thread's, or not known here). */
  cpuSeconds(): number;
}

/** The calling thread (INFERENCE_WORKERS=0: the naive design). */
export class InThreadHost implements Host {
  readonly healthy = true;
  readonly name = 'main';
  readonly pid = null;
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

/** The channel to a host, whether a thread or a process. */
interface Link {
  send(request: WorkerRequest, transfer?: ArrayBuffer[]): void;
  onMessage(listener: (reply: WorkerReply) => void): void;
  offMessage(listener: (reply: WorkerReply) => void): void;
  /** Once, when the host has gone: why (an exit code, a signal, an error). */
  onEnd(listener: (reason: string) => void): void;
  /** End it from outside. */
  kill(): Promise<void>;
  readonly pid: number | null;
}

function threadLink(worker: Worker): Link {
  return {
    pid: null,
    send: (request, transfer = []) => worker.postMessage(request, transfer),
    onMessage: (listener) => worker.on('message', listener),
    offMessage: (listener) => worker.off('message', listener),
    onEnd: (listener) => {
      worker.once('error', (err) => listener(err.message));
      worker.once('exit', (code) => listener(`exited with code ${code}`));
    },
    kill: async () => {
      await worker.terminate();
    },
  };
}

function processLink(child: ChildProcess): Link {
  return {
    pid: child.pid ?? null,
    // IPC copies (advanced serialization keeps typed arrays); nothing is transferred. A send to
    // a process that has just died fails quietly: its exit, which follows, ends the host.
    send: (request) => {
      if (child.connected) child.send(request, () => {});
    },
    onMessage: (listener) => child.on('message', listener as (message: unknown) => void),
    offMessage: (listener) => child.off('message', listener as (message: unknown) => void),
    onEnd: (listener) => {
      let ended = false;
      const end = (reason: string): void => {
        if (!ended) listener(reason);
        ended = true;
      };
      child.once('exit', (code, signal) => end(signal ? `killed by ${signal}` : `exited with code ${code}`));
      // An error without an exit to follow: the process never started.
      child.on('error', (err) => {
        if (child.pid === undefined) end(err.message);
      });
    },
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** A worker thread or a child process; a thread's inputs are transferred, not copied. */
export class WorkerHost implements Host {
  healthy = true;
  backend: string | null;
  nativeMissing: string | null;
  private stopping = false;
  private exited = false;
  private nextId = 0;
  private readonly waiting = new Map<number, Waiting>();
  /** The last CPU reading: what the host used, once it is gone. */
  private lastCpuSeconds = 0;
  /** Why the host was ended from outside (a batch past its time, its memory), reported instead of the signal. */
  private killedBecause: string | undefined;
  /** Killed at its memory ceiling: its batches fail rather than being retried. */
  private overMemory = false;

  private constructor(
    private readonly link: Link,
    readonly name: string,
    backend: string | null,
    nativeMissing: string | null,
    private readonly tid: number | null,
    /** A process host whose batch takes longer is killed and replaced (0: never). */
    private readonly batchTimeoutMs: number,
    onDeath: (host: WorkerHost, reason: string) => void,
  ) {
    this.backend = backend;
    this.nativeMissing = nativeMissing;
    link.onMessage((reply: WorkerReply) => {
      if (reply.type === 'ready') return;
      const w = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if (reply.type === 'result') w?.resolve(reply.probs);
      else if (reply.type === 'loaded') {
        this.backend = reply.backend;
        this.nativeMissing = reply.nativeMissing;
        w?.resolve(undefined);
      } else w?.reject(new Error(reply.message));
    });
    link.onEnd((signalled) => {
      const reason = this.killedBecause ?? signalled;
      this.exited = true;
      const crashed = this.healthy && !this.stopping;
      this.healthy = false;
      for (const w of this.waiting.values()) w.reject(this.overMemory ? new HostMemoryError(name, reason) : new ExecutorCrashedError(name, reason));
      this.waiting.clear();
      if (crashed) onDeath(this, reason);
    });
  }

  get pid(): number | null {
    return this.link.pid;
  }

  /** Start a host with its backend; resolves once it is ready for models. */
  static start(name: string, kind: HostKind, backend: BackendChoice, nice: number, onDeath: (host: WorkerHost, reason: string) => void, batchTimeoutMs = 0): Promise<WorkerHost> {
    const options = { backend, nice };
    const link = kind === 'processes' ? processLink(startProcess(import.meta.url, 'inference-worker', options)) : threadLink(startWorker(import.meta.url, 'inference-worker', options));
    const what = kind === 'processes' ? 'process' : 'thread';
    return new Promise((resolve, reject) => {
      let started = false;
      link.onEnd((reason) => {
        if (!started) reject(new Error(`inference ${what} ${name} ${reason} while starting`));
      });
      const onReady = (reply: WorkerReply): void => {
        link.offMessage(onReady);
        started = true;
        if (reply.type !== 'ready') {
          void link.kill();
          return reject(new Error(`inference ${what} ${name}: unexpected ${reply.type}`));
        }
        resolve(new WorkerHost(link, name, reply.backend, reply.nativeMissing, reply.tid, kind === 'processes' ? batchTimeoutMs : 0, onDeath));
      };
      link.onMessage(onReady);
    });
  }

  private call(request: WorkerRequest & { id: number }, transfer: ArrayBuffer[] = []): Promise<Float32Array | undefined> {
    if (!this.healthy) return Promise.reject(new ExecutorCrashedError(this.name, 'not running'));
    return new Promise((resolve, reject) => {
      this.waiting.set(request.id, { resolve, reject });
      this.link.send(request, transfer);
    });
  }

  async load(key: string, spec: ModelSpec, warmupRuns: number): Promise<void> {
    await this.call({ type: 'load', id: this.nextId++, key, spec, warmupRuns });
  }

  unload(key: string): void {
    if (this.healthy) this.link.send({ type: 'unload', key });
  }

  async run(key: string, batch: Float32Array, n: number): Promise<Float32Array> {
    // A process host that does not answer in time (hung, stopped, spinning in native code) is
    // killed: its batches fail as a crash's do (retried once elsewhere), and it is replaced.
    // A thread cannot be ended safely inside a native call, so threads are never timed out.
    const timer =
      this.batchTimeoutMs > 0
        ? setTimeout(() => this.killFor(`a batch ran longer than INFERENCE_BATCH_TIMEOUT_MS (${this.batchTimeoutMs} ms)`), this.batchTimeoutMs)
        : undefined;
    try {
      const probs = await this.call({ type: 'run', id: this.nextId++, key, batch, n }, [batch.buffer as ArrayBuffer]);
      if (!probs) throw new Error('inference host answered a batch without results');
      return probs;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Stop the host (not a crash: no replacement). It is asked to end between tasks, after
   * the batch or load it is running; only a host that does not end within `graceMs` is
   * ended from outside.
   */
  async stop(graceMs = 5_000): Promise<void> {
    this.stopping = true;
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.link.onEnd(() => resolve()));
    this.link.send({ type: 'stop' });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
    if ((await Promise.race([exited, late])) === 'late') await this.link.kill();
    clearTimeout(timer);
  }

  /** End the host from outside, saying why (the first reason given stands). */
  killFor(reason: string, overMemory = false): void {
    if (this.exited || this.killedBecause !== undefined) return;
    this.killedBecause = reason;
    this.overMemory = overMemory;
    void this.link.kill();
  }

  /** Bytes a process host holds in memory (NaN for a thread, or once it is gone). */
  rssBytes(): number {
    return this.exited || this.link.pid === null ? Number.NaN : processRssBytes(this.link.pid);
  }

  /** For tests: the host exits as a fault would (between tasks, as stop does). */
  crash(): void {
    this.link.send({ type: 'crash' });
  }

  /** The host's CPU seconds: its runtime's work, and the receiving and posting of each batch (a process: all its threads). */
  cpuSeconds(): number {
    const now = this.exited ? Number.NaN : this.link.pid !== null ? processCpuSeconds(this.link.pid) : this.tid !== null ? threadCpuSeconds(this.tid) : Number.NaN;
    // A counter: a process's reading can dip when one of its threads ends.
    if (Number.isFinite(now)) this.lastCpuSeconds = Math.max(this.lastCpuSeconds, now);
    else if (this.link.pid === null && this.tid === null) return Number.NaN;
    return this.lastCpuSeconds;
  }
}
