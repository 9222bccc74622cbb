/** service, naive and threading: load runs at each concurrency against one server per configuration. */
import { log, results, save, want, concurrencies, duration, RUNTIMES, workers } from '../context.js';
import { load, startServer, stopServer, warmUp } from '../harness.js';

/** Load runs at each concurrency not measured yet, against one server started with `env`; stored under `${prefix}${c}`. */
async function measureRuns(name: 'service' | 'naive' | 'threading', wanted: number[], env: Record<string, string>, prefix = '', cwd = '.'): Promise<void> {
  const store = (results[name] ??= {});
  const pending = wanted.filter((c) => !store[`${prefix}${c}`]);
  if (pending.length === 0) return;
  const server = await startServer(env, cwd);
  try {
    await warmUp();
    for (const c of pending) {
      log(`${name} ${prefix}: concurrency ${c}, ${duration} s`);
      const r = await load(server.pid!, c, duration);
      store[`${prefix}${c}`] = r;
      await save();
      log(`  ${r.rps} req/s, p99 ${r.p99} ms`);
    }
  } finally {
    await stopServer(server);
  }
}


// How ONNX Runtime is best driven: its run() holds the calling JS thread until the batch is done.
const THREADING: Record<string, Record<string, string>> = {
  'main-thread-intra2-': { INFERENCE_WORKERS: '0', ONNX_INTRA_OP_THREADS: String(workers) },
  'one-worker-intra2-': { INFERENCE_WORKERS: '1', ONNX_INTRA_OP_THREADS: String(workers) },
  [`${workers}-workers-intra1-`]: { INFERENCE_WORKERS: String(workers), ONNX_INTRA_OP_THREADS: '1' },
};

export async function run(): Promise<void> {
  if (want('service')) for (const runtime of RUNTIMES) await measureRuns('service', concurrencies, { CACHE_MAX_ENTRIES: '0', INFERENCE_RUNTIME: runtime }, `${runtime}-`);
  if (want('naive')) await measureRuns('naive', [8, 32], { INFERENCE_WORKERS: '0', MAX_BATCH_SIZE: '1', MAX_QUEUE: '100000', CACHE_MAX_ENTRIES: '0', INFERENCE_RUNTIME: 'tfjs' });
  if (want('threading')) for (const [prefix, env] of Object.entries(THREADING)) await measureRuns('threading', [32], { CACHE_MAX_ENTRIES: '0', INFERENCE_RUNTIME: 'onnx', ...env }, prefix);
}
