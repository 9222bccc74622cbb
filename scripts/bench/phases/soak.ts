/** soak: the service at concurrency 32 for --soak seconds, RSS sampled over time. */
import { log, results, save, values, want } from '../context.js';
import { load, startServer, stopServer, warmUp } from '../harness.js';


export async function run(): Promise<void> {
  const soakSeconds = Number(values.soak);
  if (want('soak') && soakSeconds > 0 && !results.soak) {
    const server = await startServer({ CACHE_MAX_ENTRIES: '0' });
    try {
      await warmUp();
      log(`soak: concurrency 32 for ${soakSeconds} s`);
      const trace: number[] = [];
      const r = await load(server.pid!, 32, soakSeconds, trace);
      const head = trace.slice(5, 15);
      const tail = trace.slice(-10);
      const avg = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
      results.soak = {
        seconds: soakSeconds,
        concurrency: 32,
        rps: r.rps,
        rssMb: trace,
        driftPct: Math.round(((avg(tail) - avg(head)) / Math.max(1, avg(head))) * 1000) / 10,
        statuses: r.statuses,
      };
      await save();
    } finally {
      await stopServer(server);
    }
  }
}
