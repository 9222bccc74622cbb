/** Helpers for scripts that drive the real server process (bench, soak). */
import { readFileSync } from 'node:fs';

/** Resident set size of `pid` in MB (Linux /proc); 0 once the process is gone. */
export function rssMb(pid: number): number {
  try {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    return Math.round(kb / 1024);
  } catch {
    return 0;
  }
}

/** Poll `base`/ready until it answers 200; throws after `timeoutMs`. */
export async function waitUntilReady(base: string, timeoutMs = 60_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const ready = await fetch(`${base}/ready`).then((r) => r.status === 200, () => false);
    if (ready) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the server did not become ready in ${timeoutMs / 1000} s`);
}
