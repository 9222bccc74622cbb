/**
 * The inference host budget, shared by every model version: INFERENCE_WORKERS hosts,
 * processes or threads (or the calling thread when 0). Each version is loaded into every host;
 * a batch of any version runs on whichever host is free, so adding models adds memory, never
 * hosts. A host that dies is replaced and reloaded with every version it held; a version whose
 * work kills its host twice is quarantined; new files are opened in a throwaway process first.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { BackendChoice } from '../runtimes/tfjs/backend-choice.js';
import type { ModelSpec } from '../runtimes/runtime.js';
import { deathInBrief, diedOfItsWork, InThreadHost, MEMORY_SETTING, WorkerHost, type Host, type HostKind } from './hosts.js';
import { deathOf, Prober } from './prober.js';
import { ExecutorCrashedError, type Executor } from './scheduler.js';

/** A version whose runtime crashed its host twice: the pool runs no more of its batches. */
export class QuarantinedError extends Error {
  constructor(
    readonly key: string,
    readonly reason: string,
  ) {
    super(`model ${key} is quarantined: ${reason}`);
    this.name = 'QuarantinedError';
  }
}

/** Crashes of its host that quarantine a version. */
const CRASHES_TO_QUARANTINE = 2;
/** Deaths of a host this close together make its restarts back off, up to MAX_BACKOFF_MS. */
const RESTART_WINDOW_MS = 10_000;
const MAX_BACKOFF_MS = 5_000;
/** How often process hosts' memory is read against the ceiling. */
const MEMORY_CHECK_MS = 50;

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
  /** A process host (or a throwaway one opening new files) holding more memory is replaced (0 or absent: no ceiling). */
  hostMemoryBytes?: number;
}

export interface PoolEvents {
  onHostDeath?: (host: string, reason: string) => void;
  /** A replacement is serving, with every version the dead host held; `reason` is why that one died. */
  onHostRestart?: (host: string, reason: string) => void;
  /** Version `key` crashed its host twice: no more of its batches run, and replacement hosts do not load it. */
  onQuarantine?: (key: string, reason: string) => void;
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
  /** Crashes of a host that each version's work caused, and the versions quarantined for it. */
  private readonly crashes = new Map<string, number>();
  private readonly quarantined = new Map<string, string>();
  /** Throwaway processes opening new versions' files before the hosts load them. */
  private readonly prober: Prober;
  /** Each host name's recent deaths, for the backoff of its restarts. */
  private readonly deaths = new Map<string, { count: number; at: number }>();
  private readonly memoryTimer: NodeJS.Timeout | undefined;

  private readonly events: PoolEvents = {};

  private constructor(
    private readonly opts: PoolOptions,
    events: PoolEvents,
  ) {
    this.listen(events);
    this.prober = new Prober(() => WorkerHost.start('probe', 'processes', opts.backend, opts.workerNice ?? 0, () => {}), opts.warmupRuns);
    if ((opts.hostMemoryBytes ?? 0) > 0 && opts.workers > 0) this.memoryTimer = setInterval(() => this.checkMemory(), MEMORY_CHECK_MS).unref();
  }

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
    const pool = new InstancePool(opts, events);
    // Its throwaway process starts beside the hosts: the first versions do not wait for one.
    pool.prober.prepare();
    const onDeath = (dead: WorkerHost, reason: string): void => self.pool?.replace(dead, reason, onDeath);
    const hosts = await Promise.all(Array.from({ length: opts.workers }, (_, i) => WorkerHost.start(`worker-${i}`, opts.hosts ?? 'threads', opts.backend, opts.workerNice ?? 0, onDeath, opts.batchTimeoutMs))).catch(
      async (err: unknown) => {
        await pool.close();
        throw err;
      },
    );
    self.pool = pool;
    for (const h of hosts) pool.add(h);
    return pool;
  }

  /** Be told of hosts' deaths, restarts and quarantines from now on (replacing earlier listeners of each). */
  listen(events: PoolEvents): void {
    Object.assign(this.events, events);
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

  /**
   * Load (and warm) a version into every host; on any failure it is unloaded from all. With
   * hosts apart from the calling thread, its files are first opened (and run once) in a
   * throwaway process, so a model that crashes its runtime never reaches a serving host.
   */
  async load(key: string, spec: ModelSpec): Promise<void> {
    this.quarantined.delete(key);
    this.crashes.delete(key);
    if (this.opts.workers > 0) await this.prober.probe(key, spec);
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
    this.quarantined.delete(key);
    this.crashes.delete(key);
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
    const quarantined = this.quarantined.get(key);
    if (quarantined !== undefined) throw new QuarantinedError(key, quarantined);
    const host = await this.acquire();
    let doing = 'running a batch';
    try {
      // A thread that replaced a dead one while this version was loading does not hold it yet.
      const spec = this.loaded.get(key);
      if (spec !== undefined && !this.held.get(host)?.has(key)) {
        doing = 'loading';
        // Its files may be gone since (a removed local folder): the batch is retried on a
        // thread that holds the version, rather than failing as a server error.
        await this.loadOn(host, key, spec).catch((err: unknown) => {
          throw new ExecutorCrashedError(host.name, `could not load ${key}: ${err instanceof Error ? err.message : String(err)}`);
        });
        doing = 'running a batch';
      }
      return await host.run(key, batch, n);
    } catch (err) {
      const died = deathOf(err);
      if (died) this.crashed(key, died.reason, doing);
      throw err;
    } finally {
      this.release(host);
    }
  }

  /** A host died at `key`'s work: the second time its work is to blame, the version is quarantined. */
  private crashed(key: string, reason: string, doing: string): void {
    if (!diedOfItsWork(reason) || this.quarantined.has(key)) return;
    const count = (this.crashes.get(key) ?? 0) + 1;
    this.crashes.set(key, count);
    if (count < CRASHES_TO_QUARANTINE) return;
    const why = `the runtime crashed while ${doing}: ${deathInBrief(reason)} (${count} times; quarantined until its files change or an admin loads it)`;
    this.quarantined.set(key, why);
    this.loaded.delete(key);
    this.events.onQuarantine?.(key, why);
  }

  /** Replace any process host (or throwaway process) holding more memory than the ceiling. */
  private checkMemory(): void {
    const ceiling = this.opts.hostMemoryBytes ?? 0;
    for (const host of [...this.hosts, this.prober.current]) {
      if (!(host instanceof WorkerHost)) continue;
      const rss = host.rssBytes();
      if (rss > ceiling) host.killFor(`its memory reached ${Math.round(rss / 2 ** 20)} MiB, over ${MEMORY_SETTING} (${Math.round(ceiling / 2 ** 20)} MiB)`, true);
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
    clearInterval(this.memoryTimer);
    await this.prober.close();
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
    void this.restart(dead.name, reason, onDeath).finally(() => {
      this.restarting--;
      if (this.none()) this.failWaiters();
    });
  }

  /**
   * Start a host in place of `name`, which died of `reason`, and load every version into it.
   * A host that keeps dying is restarted after a backoff that doubles, up to a few seconds.
   */
  private async restart(name: string, reason: string, onDeath: (host: WorkerHost, reason: string) => void): Promise<void> {
    const now = performance.now();
    const last = this.deaths.get(name);
    const count = last && now - last.at < RESTART_WINDOW_MS ? last.count + 1 : 1;
    this.deaths.set(name, { count, at: now });
    if (count > 1) await sleep(Math.min(MAX_BACKOFF_MS, 100 * 2 ** (count - 2)));
    if (this.closed) return;
    let fresh: WorkerHost;
    try {
      fresh = await WorkerHost.start(name, this.opts.hosts ?? 'threads', this.opts.backend, this.opts.workerNice ?? 0, onDeath, this.opts.batchTimeoutMs);
    } catch (err) {
      this.events.onHostDeath?.(name, `restart failed: ${String(err)}`);
      return this.restart(name, reason, onDeath);
    }
    const keys: string[] = [];
    for (const [key, spec] of [...this.loaded]) {
      try {
        await fresh.load(key, spec, this.opts.warmupRuns);
        keys.push(key);
      } catch (err) {
        // The new host died loading it (its own death restarts it again), or the files are
        // gone (a batch loads them on demand, or is retried where they are loaded).
        const died = deathOf(err);
        if (died) return this.crashed(key, died.reason, 'loading');
      }
    }
    if (this.closed) return void fresh.stop();
    // Versions unloaded meanwhile.
    const current = keys.filter((k) => this.loaded.has(k));
    for (const k of keys) if (!this.loaded.has(k)) fresh.unload(k);
    this.add(fresh, current);
    this.events.onHostRestart?.(fresh.name, reason);
  }
}
