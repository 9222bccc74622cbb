/**
 * The inference thread budget, shared by every model version: INFERENCE_WORKERS threads (or
 * the calling thread when 0). Each version is loaded into every thread; a batch of any
 * version runs on whichever thread is free, so adding models adds memory, never threads.
 * A thread that dies is replaced and reloaded with every version it held.
 */
import type { BackendChoice } from '../runtimes/tfjs/backend-choice.js';
import type { ModelSpec } from '../runtimes/runtime.js';
import { InThreadHost, WorkerHost, type Host, type HostKind } from './hosts.js';
import { ExecutorCrashedError, type Executor } from './scheduler.js';

export interface PoolOptions {
  /** Hosts; 0 runs models on the calling thread. */
  workers: number;
  /** Worker threads (the default) or child processes, where a native fault ends one host only. */
  hosts?: HostKind;
  /** A process host whose batch takes longer is killed and replaced (0 or absent: never). */
  batchTimeoutMs?: number;
  backend: BackendChoice;
  warmupRuns: number;
  /** Niceness of the worker threads (Linux: per thread); 0 leaves them at the process's priority. */
  workerNice?: number;
}

export interface PoolEvents {
  onHostDeath?: (host: string, reason: string) => void;
  /** A replacement is serving, with every version the dead host held; `reason` is why that one died. */
  onHostRestart?: (host: string, reason: string) => void;
}

export class InstancePool {
  private readonly hosts = new Set<Host>();
  private readonly idle: Host[] = [];
  private readonly waiters: { resolve: (host: Host) => void; reject: (err: Error) => void }[] = [];
  /** Threads being started to replace dead ones. */
  private restarting = 0;
  /** Versions loaded in every thread, by key, with what loads them (for replacement threads). */
  private readonly loaded = new Map<string, ModelSpec>();
  /** Versions each thread holds. */
  private readonly held = new WeakMap<Host, Set<string>>();
  private closed = false;
  /** CPU seconds of threads that died (replaced since). */
  private retiredCpuSeconds = 0;

  private constructor(
    private readonly opts: PoolOptions,
    private readonly events: PoolEvents,
  ) {}

  /** TF.js's backend, once a host has loaded a TF.js model (hosts load TF.js only then): null before. */
  get backend(): string | null {
    return [...this.hosts].find((h) => h.backend !== null)?.backend ?? null;
  }

  /** Why TF.js is not on its native backend, when `auto` fell back (null otherwise, or before TF.js is loaded). */
  get nativeMissing(): string | null {
    return [...this.hosts].find((h) => h.backend !== null)?.nativeMissing ?? null;
  }

  /** Start the threads (no model yet). */
  static async start(opts: PoolOptions, events: PoolEvents = {}): Promise<InstancePool> {
    if (opts.workers === 0) {
      const host = await InThreadHost.start(opts.backend);
      const pool = new InstancePool(opts, events);
      pool.add(host);
      return pool;
    }
    const self: { pool?: InstancePool } = {};
    const onDeath = (dead: WorkerHost, reason: string): void => self.pool?.replace(dead, reason, onDeath);
    const hosts = await Promise.all(Array.from({ length: opts.workers }, (_, i) => WorkerHost.start(`worker-${i}`, opts.hosts ?? 'threads', opts.backend, opts.workerNice ?? 0, onDeath, opts.batchTimeoutMs)));
    const pool = new InstancePool(opts, events);
    self.pool = pool;
    for (const h of hosts) pool.add(h);
    return pool;
  }

  /**
   * CPU seconds the inference threads have used since the pool started, dead ones included
   * (NaN with no worker threads, or no /proc): the runtimes' work and each batch's hand-over.
   */
  cpuSeconds(): number {
    return [...this.hosts].reduce((sum, h) => sum + h.cpuSeconds(), this.retiredCpuSeconds);
  }

  /** Threads running now. */
  get size(): number {
    return [...this.hosts].filter((h) => h.healthy).length;
  }

  /** Load (and warm) a version into every thread; on any failure it is unloaded from all. */
  async load(key: string, spec: ModelSpec): Promise<void> {
    const hosts = [...this.hosts].filter((h) => h.healthy);
    try {
      await Promise.all(hosts.map((h) => this.loadOn(h, key, spec)));
      this.loaded.set(key, spec);
    } catch (err) {
      for (const h of hosts) this.unloadFrom(h, key);
      throw err;
    }
  }

  unload(key: string): void {
    this.loaded.delete(key);
    for (const h of this.hosts) this.unloadFrom(h, key);
  }

  private async loadOn(host: Host, key: string, spec: ModelSpec): Promise<void> {
    await host.load(key, spec, this.opts.warmupRuns);
    this.held.get(host)?.add(key);
  }

  private unloadFrom(host: Host, key: string): void {
    host.unload(key);
    this.held.get(host)?.delete(key);
  }

  /** Run one batch of version `key` on the next free thread. */
  async run(key: string, batch: Float32Array, n: number): Promise<Float32Array> {
    const host = await this.acquire();
    try {
      // A thread that replaced a dead one while this version was loading does not hold it yet.
      const spec = this.loaded.get(key);
      if (spec !== undefined && !this.held.get(host)?.has(key)) {
        // Its files may be gone since (a removed local folder): the batch is retried on a
        // thread that holds the version, rather than failing as a server error.
        await this.loadOn(host, key, spec).catch((err: unknown) => {
          throw new ExecutorCrashedError(host.name, `could not load ${key}: ${err instanceof Error ? err.message : String(err)}`);
        });
      }
      return await host.run(key, batch, n);
    } finally {
      this.release(host);
    }
  }

  /** One scheduler executor per thread for version `key`: a model alone can use every thread. */
  executors(key: string): Executor[] {
    const count = Math.max(1, this.opts.workers);
    return Array.from({ length: count }, (_, i) => ({ name: `${key}#${i}`, healthy: true, run: (batch, n) => this.run(key, batch, n) }));
  }

  /** The process ids of process hosts (none for threads). */
  hostPids(): number[] {
    return [...this.hosts].flatMap((h) => (h.healthy && h.pid !== null ? [h.pid] : []));
  }

  /** For tests: crash one worker thread as a fault would. */
  crashOne(): boolean {
    const victim = [...this.hosts].find((h) => h instanceof WorkerHost && h.healthy);
    victim?.crash();
    return victim !== undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.hosts].map((h) => h.stop()));
    this.hosts.clear();
    // Batches still waiting for a thread would wait forever.
    this.failWaiters();
  }

  private add(host: Host, keys: Iterable<string> = []): void {
    this.held.set(host, new Set(keys));
    this.hosts.add(host);
    this.release(host);
  }

  private acquire(): Promise<Host> {
    const host = this.idle.shift();
    if (host) return Promise.resolve(host);
    if (this.none()) return Promise.reject(this.noThread());
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  private release(host: Host): void {
    if (!host.healthy || !this.hosts.has(host)) return;
    const next = this.waiters.shift();
    if (next) next.resolve(host);
    else this.idle.push(host);
  }

  /** No thread runs and none is coming: waiting would never end. */
  private none(): boolean {
    return this.size === 0 && this.restarting === 0;
  }

  private noThread(): ExecutorCrashedError {
    return new ExecutorCrashedError('pool', 'no inference thread is running');
  }

  private failWaiters(): void {
    for (const w of this.waiters.splice(0)) w.reject(this.noThread());
  }

  private replace(dead: WorkerHost, reason: string, onDeath: (host: WorkerHost, reason: string) => void): void {
    this.retiredCpuSeconds += dead.cpuSeconds();
    this.hosts.delete(dead);
    const at = this.idle.indexOf(dead);
    if (at >= 0) this.idle.splice(at, 1);
    this.events.onHostDeath?.(dead.name, reason);
    if (this.closed) return;
    this.restarting++;
    void (async () => {
      try {
        const fresh = await WorkerHost.start(dead.name, this.opts.hosts ?? 'threads', this.opts.backend, this.opts.workerNice ?? 0, onDeath, this.opts.batchTimeoutMs);
        const keys: string[] = [];
        for (const [key, spec] of [...this.loaded]) {
          await fresh.load(key, spec, this.opts.warmupRuns);
          keys.push(key);
        }
        if (this.closed) return void fresh.stop();
        // Versions unloaded meanwhile.
        const current = keys.filter((k) => this.loaded.has(k));
        for (const k of keys) if (!this.loaded.has(k)) fresh.unload(k);
        this.add(fresh, current);
        this.events.onHostRestart?.(fresh.name, reason);
      } catch (err) {
        this.events.onHostDeath?.(dead.name, `restart failed: ${String(err)}`);
      } finally {
        this.restarting--;
        if (this.none()) this.failWaiters();
      }
    })();
  }
}
