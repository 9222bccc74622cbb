/**
 * baseline: with --baseline DIR, the server built in DIR (a checkout of another revision, run
 * with its own defaults and bundled model) against this one, at concurrency 32, --rounds times
 * each, alternating which goes first. Each server answers both request forms in turn: /predict
 * with a multipart JPEG, and V2 binary infer with UINT8 pixels (cache off, ONNX Runtime).
 */
import { duration, log, results, save, values, want } from '../context.js';
import { fixtureRequests, load, ok, processCpuSeconds, startServer, stopServer, v2PixelRequests, warmUp } from '../harness.js';

type Form = 'predict' | 'v2';
type Which = 'service' | 'baseline';

export async function run(): Promise<void> {
  if (!want('baseline') || !values.baseline) return;
  const dir = values.baseline;
  const cmp = (results.baseline ??= { dir, concurrency: 32, service: [], baseline: [] });
  cmp.v2 ??= { service: [], baseline: [] };
  cmp.cpuMs ??= { 'service-predict': [], 'baseline-predict': [], 'service-v2': [], 'baseline-v2': [] };
  const v2 = cmp.v2;
  const cpuMs = cmp.cpuMs;
  const rounds = Number(values.rounds);
  const requests = { predict: fixtureRequests, v2: await v2PixelRequests() };
  const store = (which: Which, form: Form): number[] => (form === 'predict' ? cmp[which] : v2[which]);
  /** One server (this one, or the baseline's in its own folder), warmed, at c32 on each form. */
  const once = async (which: Which, round: number): Promise<void> => {
    const server = await startServer({ CACHE_MAX_ENTRIES: '0', INFERENCE_RUNTIME: 'onnx' }, which === 'baseline' ? dir : '.');
    try {
      await warmUp();
      const forms: Form[] = round % 2 === 0 ? ['predict', 'v2'] : ['v2', 'predict'];
      for (const form of forms) {
        if (store(which, form).length > round) continue;
        log(`${which}: ${form}, concurrency 32, ${duration} s (round ${round + 1} of ${rounds})`);
        const cpuBefore = processCpuSeconds(server.pid!);
        const r = await load(server.pid!, 32, duration, undefined, undefined, requests[form]);
        // The server's CPU per request (all its threads): what a request costs, whatever share of the cores the load generator took.
        const cpu = ((processCpuSeconds(server.pid!) - cpuBefore) / Math.max(1, r.requests)) * 1000;
        store(which, form).push(r.errors + r.timeouts > 0 ? 0 : ok(r) / duration);
        (cpuMs[`${which}-${form}`] ??= []).push(Math.round(cpu * 1000) / 1000);
        await save();
        log(`  ${(ok(r) / duration).toFixed(0)} req/s (200), ${cpu.toFixed(2)} ms of server CPU per request`);
      }
    } finally {
      await stopServer(server);
    }
  };
  const done = (): number => Math.min(cmp.service.length, cmp.baseline.length, v2.service.length, v2.baseline.length);
  for (let i = done(); i < rounds; i++) {
    const order: Which[] = i % 2 === 0 ? ['service', 'baseline'] : ['baseline', 'service'];
    for (const which of order) if (cmp[which].length <= i || v2[which].length <= i) await once(which, i);
  }
}
