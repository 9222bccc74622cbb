/** The inference pool's settings from the server's config (light: the server starts the pool before loading the rest). */
import { readFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import type { Config } from '../config.js';
import type { PoolOptions } from './pool.js';

/** ONNX Runtime threads per session: each inference thread runs one batch at a time, so the cores are shared out over them. */
export function onnxThreads(config: Pick<Config, 'ONNX_INTRA_OP_THREADS' | 'INFERENCE_WORKERS'>): number {
  if (config.ONNX_INTRA_OP_THREADS !== 'auto') return config.ONNX_INTRA_OP_THREADS;
  return Math.max(1, Math.floor(availableParallelism() / Math.max(1, config.INFERENCE_WORKERS)));
}

/** The least an automatic ceiling gives a host: far above a healthy one (60-150 MB here), so that many hosts in a small container are never killed for holding their models. */
const AUTO_CEILING_FLOOR_MB = 512;

/**
 * Each process host's memory ceiling in MiB: INFERENCE_HOST_MEMORY_MB, or (auto) 80 % of the
 * memory the server may use (its cgroup's limit, else the machine's) shared out over the
 * hosts, but at least AUTO_CEILING_FLOOR_MB and at most that 80 %: the ceiling is there to stop
 * one runaway host before the kernel stops the whole server, not to partition the memory.
 */
export function hostMemoryCeilingMb(config: Pick<Config, 'INFERENCE_HOST_MEMORY_MB' | 'INFERENCE_WORKERS'>, cgroupLimitFile = '/sys/fs/cgroup/memory.max'): number {
  if (config.INFERENCE_HOST_MEMORY_MB !== 'auto') return config.INFERENCE_HOST_MEMORY_MB;
  let limit = totalmem();
  try {
    const cgroup = Number(readFileSync(cgroupLimitFile, 'utf8').trim());
    if (Number.isFinite(cgroup) && cgroup > 0) limit = Math.min(limit, cgroup);
  } catch {
    /* no cgroup v2 limit here */
  }
  const usable = (0.8 * limit) / 2 ** 20;
  return Math.floor(Math.min(usable, Math.max(AUTO_CEILING_FLOOR_MB, usable / Math.max(1, config.INFERENCE_WORKERS))));
}

/** The pool's options: its hosts, their limits, the backend and warm-up. */
export function poolOptions(config: Config): PoolOptions {
  return {
    workers: config.INFERENCE_WORKERS,
    hosts: config.INFERENCE_HOSTS,
    batchTimeoutMs: config.INFERENCE_BATCH_TIMEOUT_MS,
    hostMemoryBytes: hostMemoryCeilingMb(config) * 2 ** 20,
    backend: config.INFERENCE_BACKEND,
    warmupRuns: config.WARMUP_RUNS,
    workerNice: config.INFERENCE_WORKER_NICE,
  };
}
