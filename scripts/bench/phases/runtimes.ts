/** runtimes: TF.js and ONNX Runtime servers alternately, --rounds each, at concurrency 1 and 32 (single runs vary too much on a shared VM to compare two configurations). */
import type { RuntimeName } from '../../../src/runtimes/runtime.js';
import { duration, log, results, save, values, want } from '../context.js';
import { load, ok, startServer, stopServer, warmUp } from '../harness.js';


export async function run(): Promise<void> {
  // Single 10-s runs on this shared VM vary by up to 2× (the same server gave 245 and 502 req/s
  // in one run): the runtimes are compared over alternating rounds, and their medians.
  if (want('runtimes')) {
    const rounds = Number(values.rounds);
    const rr = (results.runtimeRounds ??= { tfjs: [], onnx: [], p50c1: { tfjs: [], onnx: [] } });
    for (let i = Math.min(rr.tfjs.length, rr.onnx.length); i < rounds; i++) {
      const order: RuntimeName[] = i % 2 === 0 ? ['tfjs', 'onnx'] : ['onnx', 'tfjs'];
      for (const runtime of order) {
        if (rr[runtime].length > i) continue;
        const server = await startServer({ CACHE_MAX_ENTRIES: '0', INFERENCE_RUNTIME: runtime });
        try {
          await warmUp();
          log(`runtimes: ${runtime}, concurrency 1 and 32, ${duration} s each (round ${i + 1} of ${rounds})`);
          const one = await load(server.pid!, 1, duration);
          const r = await load(server.pid!, 32, duration);
          rr.p50c1![runtime].push(one.p50);
          rr[runtime].push(r.errors + r.timeouts > 0 ? 0 : ok(r) / duration);
          await save();
          log(`  c1 p50 ${one.p50} ms; c32 ${(ok(r) / duration).toFixed(0)} req/s`);
        } finally {
          await stopServer(server);
        }
      }
    }
  }

}
