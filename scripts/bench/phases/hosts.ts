/**
 * hosts: what running the inference hosts as child processes (INFERENCE_HOSTS=processes, the
 * default) costs against worker threads, on ONNX Runtime with the cache off, servers
 * started afresh and alternated each round: start-up (spawn to /ready 200), the process tree's
 * idle memory (sum of PSS), /predict multipart at concurrency 32 (req/s, and the tree's CPU per
 * request: a process host's CPU is its own), and p50 at concurrency 1.
 */
import { treeCpuSeconds, treePssMb } from '../../lib/server-process.js';
import { duration, log, results, save, values, want } from '../context.js';
import { fixtureRequests, load, MULTIPART_HEADERS, multipart, ok, sequential, startServer, stopServer, warmUp } from '../harness.js';
import { images } from '../context.js';

export const HOST_KINDS = ['threads', 'processes'] as const;

export async function run(): Promise<void> {
  if (!want('hosts')) return;
  const h = (results.hosts ??= { startMs: {}, idlePssMb: {}, rps: {}, cpuMs: {}, p50c1Ms: {}, errors: {} });
  const rounds = Number(values.rounds);
  const done = (): number => Math.min(...HOST_KINDS.map((k) => h.rps[k]?.length ?? 0));
  for (let i = done(); i < rounds; i++) {
    const order = i % 2 === 0 ? HOST_KINDS : [...HOST_KINDS].reverse();
    for (const kind of order) {
      if ((h.rps[kind]?.length ?? 0) > i) continue;
      log(`hosts: ${kind} (round ${i + 1} of ${rounds})`);
      const started = performance.now();
      const server = await startServer({ CACHE_MAX_ENTRIES: '0', INFERENCE_RUNTIME: 'onnx', INFERENCE_HOSTS: kind });
      const startMs = performance.now() - started;
      try {
        await new Promise((r) => setTimeout(r, 2000));
        const idle = treePssMb(server.pid!);
        await warmUp();
        const cpuBefore = treeCpuSeconds(server.pid!);
        const r = await load(server.pid!, 32, duration, undefined, undefined, fixtureRequests);
        const cpuMs = ((treeCpuSeconds(server.pid!) - cpuBefore) * 1000) / Math.max(1, ok(r));
        const c1 = await sequential('/predict', 300, () => ({ method: 'POST', headers: MULTIPART_HEADERS, body: multipart(images[i % images.length]!) }));
        (h.startMs[kind] ??= []).push(startMs);
        (h.idlePssMb[kind] ??= []).push(idle);
        (h.rps[kind] ??= []).push(ok(r) / duration);
        (h.cpuMs[kind] ??= []).push(cpuMs);
        (h.p50c1Ms[kind] ??= []).push(c1.p50Ms);
        h.errors[kind] = (h.errors[kind] ?? 0) + r.errors + r.timeouts + r.requests - ok(r);
        await save();
        log(`  ready in ${startMs.toFixed(0)} ms, idle PSS ${idle} MB; ${(ok(r) / duration).toFixed(0)} req/s at c32, ${cpuMs.toFixed(2)} ms CPU per request; p50 at c1 ${c1.p50Ms} ms`);
      } finally {
        await stopServer(server);
      }
    }
  }
}
