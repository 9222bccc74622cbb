/** Helpers for scripts that drive the real server process (bench, soak). */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { processCpuSeconds, processRssBytes } from '../../src/inference/thread-cpu.js';

/** Resident set size of `pid` in MB (Linux /proc); 0 once the process is gone. */
export function rssMb(pid: number): number {
  return Math.round((processRssBytes(pid) || 0) / 2 ** 20);
}

/** Send SIGTERM to a server and wait for it to exit. */
export async function stopServer(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** The Node.js flags a revision's `npm start` runs its server with (`exec node <flags> dist/server.js`), in the checkout at `cwd`. */
export function startFlags(cwd: string): string[] {
  const pkg = JSON.parse(readFileSync(join(cwd, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
  const flags = /\bnode((?: --[\w-]+(?:=\S+)?)*) dist\/server\.js/.exec(pkg.scripts?.start ?? '')?.[1] ?? '';
  return flags.split(' ').filter(Boolean);
}

/** Poll `base`/ready until it answers 200; throws after `timeoutMs`. */
export async function waitUntilReady(base: string, timeoutMs = 60_000, everyMs = 100): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const ready = await fetch(`${base}/ready`).then((r) => r.status === 200, () => false);
    if (ready) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`the server did not become ready in ${timeoutMs / 1000} s`);
}

/** `pid` and every process below it (Linux /proc: each thread's `children`). */
export function processTree(pid: number): number[] {
  const out = [pid];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const children = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (children) for (const child of children.split(/\s+/).map(Number)) out.push(...processTree(child));
    }
  } catch {
    // gone meanwhile
  }
  return out;
}

/** Proportional set size of `pid` and its descendants in MB (shared pages split between them): the tree's real memory. */
export function treePssMb(pid: number): number {
  let kb = 0;
  for (const p of processTree(pid)) {
    try {
      kb += Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${p}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
    } catch {
      // gone meanwhile
    }
  }
  return Math.round(kb / 1024);
}

/** CPU seconds (user + system) of `pid` and its live descendants. */
export function treeCpuSeconds(pid: number): number {
  // A process gone meanwhile (NaN) adds nothing.
  return processTree(pid).reduce((sum, p) => sum + (processCpuSeconds(p) || 0), 0);
}
