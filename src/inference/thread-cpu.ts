/**
 * CPU time of one thread of this process, from Linux's /proc/self/task/<tid>/schedstat
 * (nanoseconds on a CPU; stat's utime and stime count 10-ms ticks). Node 20 has no per-thread
 * CPU clock, and a thread's own reading lags while it runs (the kernel adds a running slice at
 * the next tick or switch), so the inference threads' time is read from outside, as a total:
 * at most one slice behind. Elsewhere (no /proc) it reads as NaN and goes unreported.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** The calling thread's kernel id (null where there is no /proc). */
export function currentThreadId(): number | null {
  try {
    // "/proc/thread-self" links to "<pid>/task/<tid>".
    const tid = Number(readlinkSync('/proc/thread-self').split('/').at(-1));
    return Number.isInteger(tid) && tid > 0 ? tid : null;
  } catch {
    return null;
  }
}

/** Seconds thread `tid` of this process has run on a CPU, or NaN (no /proc, or the thread is gone). */
export function threadCpuSeconds(tid: number): number {
  try {
    const text = readFileSync(`/proc/self/task/${tid}/schedstat`, 'latin1');
    return Number(text.slice(0, text.indexOf(' '))) / 1e9;
  } catch {
    return Number.NaN;
  }
}

/**
 * Seconds process `pid` (all its threads) has run on a CPU, or NaN: the sum of its live
 * threads' schedstat (nanoseconds; a short batch would not move stat's 10-ms ticks), or
 * /proc/<pid>/stat's ticks (which keep the time of threads that have ended) when larger.
 */
export function processCpuSeconds(pid: number): number {
  const ticks = processCpuTicks(pid);
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const text = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'latin1');
        ns += Number(text.slice(0, text.indexOf(' ')));
      } catch {
        // A thread gone meanwhile.
      }
    }
    if (ns > 0) return Number.isNaN(ticks) ? ns / 1e9 : Math.max(ns / 1e9, ticks);
  } catch {
    // No such process, or no schedstat here.
  }
  return ticks;
}

function processCpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th, in clock ticks (100 per second on Linux).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** Bytes of memory process `pid` has resident (VmRSS in /proc/<pid>/status), or NaN. */
export function processRssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'latin1');
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
    return kb === undefined ? Number.NaN : Number(kb) * 1024;
  } catch {
    return Number.NaN;
  }
}
