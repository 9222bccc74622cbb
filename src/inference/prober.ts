/**
 * New versions' files are opened first in a throwaway process, never in a serving host: a
 * model that crashes its runtime while loading (or on its first run) ends a process nobody
 * depends on. Versions arriving together are opened one after another in one process, so a
 * crash is known to be that version's; the process is ended when none is waiting. One is
 * started ahead with the pool, so the versions loaded at start-up do not wait for it.
 */
import type { ModelSpec } from '../runtimes/runtime.js';
import { deathInBrief, HostMemoryError, type WorkerHost } from './hosts.js';
import { ExecutorCrashedError } from './scheduler.js';

/** Crashes of a throwaway process that make a version FAILED. */
export const PROBE_ATTEMPTS = 2;
/** A process started ahead and not used within this time is ended. */
const SPARE_IDLE_MS = 30_000;

interface Job {
  key: string;
  spec: ModelSpec;
  deaths: string[];
  resolve: () => void;
  reject: (err: Error) => void;
}

/** A host death's error, if it is one: a crash or the memory ceiling. */
export const deathOf = (err: unknown): { reason: string } | undefined => (err instanceof ExecutorCrashedError || err instanceof HostMemoryError ? err : undefined);

export class Prober {
  private readonly queue: Job[] = [];
  private draining = false;
  private closed = false;
  private spare: Promise<WorkerHost> | undefined;
  private spareTimer: NodeJS.Timeout | undefined;
  /** The process opening files now (its memory is watched with the hosts'). */
  current: WorkerHost | undefined;

  constructor(
    private readonly start: () => Promise<WorkerHost>,
    private readonly warmupRuns: number,
  ) {}

  /** Start a process ahead, for the versions about to load. */
  prepare(): void {
    if (this.spare || this.closed) return;
    const spare = this.start();
    spare.catch(() => undefined);
    this.spare = spare;
    this.spareTimer = setTimeout(() => {
      if (this.spare !== spare) return;
      this.spare = undefined;
      void spare.then((h) => h.stop(), () => undefined);
    }, SPARE_IDLE_MS).unref();
  }

  /**
   * Open `spec` (and run it `warmupRuns` times, at most once) in a throwaway process; rejects with
   * the runtime's error for files it refuses, or when the process died on it twice.
   */
  probe(key: string, spec: ModelSpec): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the inference pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ key, spec, deaths: [], resolve, reject });
      void this.drain();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.spareTimer);
    for (const job of this.queue.splice(0)) job.reject(new Error('the inference pool is closed'));
    const spare = this.spare;
    this.spare = undefined;
    await Promise.all([spare?.then((h) => h.stop(), () => undefined), this.current?.stop()]);
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const spare = this.spare;
        this.spare = undefined;
        clearTimeout(this.spareTimer);
        let host: WorkerHost;
        try {
          host = await (spare ?? this.start());
        } catch (err) {
          for (const job of this.queue.splice(0)) job.reject(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        this.current = host;
        try {
          await this.openAll(host);
        } finally {
          this.current = undefined;
          await host.stop();
        }
      }
    } finally {
      this.draining = false;
    }
  }

  /** Open queued versions one by one in `host` until none is left or it dies. */
  private async openAll(host: WorkerHost): Promise<void> {
    while (this.queue.length > 0 && host.healthy && !this.closed) {
      const job = this.queue[0]!;
      try {
        await host.load(job.key, job.spec, Math.min(1, this.warmupRuns));
        host.unload(job.key);
        this.queue.shift();
        job.resolve();
      } catch (err) {
        const died = deathOf(err);
        if (!died) {
          this.queue.shift();
          job.reject(err instanceof Error ? err : new Error(String(err)));
          continue;
        }
        job.deaths.push(died.reason);
        if (job.deaths.length >= PROBE_ATTEMPTS) {
          this.queue.shift();
          job.reject(new Error(`the runtime crashed while loading: ${deathInBrief(died.reason)} (${job.deaths.length} times, in a throwaway process; no serving host loaded it)`));
        }
        // The process is gone: the rest wait for a new one.
        return;
      }
    }
  }
}
