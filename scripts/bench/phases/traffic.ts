/** traffic: shadow copies' cost to primary latency, with and without every request mirrored, alternating. */
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { base, duration, log, results, save, values, want } from '../context.js';
import { load, modelName, ok, startServer, stopServer, warmUp } from '../harness.js';


export async function run(): Promise<void> {
  if (want('traffic')) {
    const tr = (results.traffic ??= { p50: {}, p99: {}, rps: {} });
    const rounds = Number(values.rounds);
    // A steady 50 requests/s leaves the server idle between requests (shadows use that time);
    // closed loops at concurrency 1 and 8 never leave it idle (shadows are dropped).
    const LOADS = [
      { name: 'rate50', connections: 4, rate: 50 },
      { name: 'c1', connections: 1, rate: undefined },
      { name: 'c8', connections: 8, rate: undefined },
    ];
    const keys = LOADS.flatMap((l) => [`none-${l.name}`, `shadow-${l.name}`]);
    const done = (): number => Math.min(...keys.map((k) => tr.p50[k]?.length ?? 0));
    if (done() < rounds) {
      // Two versions of the model (the same files twice), all served.
      const dir = await mkdtemp(join(tmpdir(), 'bench-traffic-'));
      await cp(join(values.model), join(dir, modelName, '1'), { recursive: true });
      await cp(join(values.model), join(dir, modelName, '2'), { recursive: true });
      await writeFile(join(dir, modelName, 'config.json'), JSON.stringify({ version_policy: { all: {} } }));
      const adminKey = 'bench-admin-key-0123456789';
      const server = await startServer({ CACHE_MAX_ENTRIES: '0', INFERENCE_RUNTIME: 'onnx', MODEL_REPOSITORY: dir, DEFAULT_MODEL: modelName, ADMIN_API_KEYS: adminKey });
      const trafficUrl = `${base}/v1/models/${modelName}/traffic`;
      const policy = async (shadow: boolean): Promise<void> => {
        const body = { split: { '1': 100 }, ...(shadow && { shadow: { version: '2', fraction: 1 } }) };
        const res = await fetch(trafficUrl, { method: 'PUT', headers: { 'content-type': 'application/json', 'x-api-key': adminKey }, body: JSON.stringify(body) });
        if (res.status !== 200) throw new Error(`PUT traffic answered ${res.status}`);
      };
      const shadowCounts = async (): Promise<{ compared: number; dropped: number }> => {
        const s = ((await (await fetch(trafficUrl, { headers: { 'x-api-key': adminKey } })).json()) as { shadow: { compared: number; dropped: number } | null }).shadow;
        return { compared: s?.compared ?? 0, dropped: s?.dropped ?? 0 };
      };
      tr.shadow ??= {};
      try {
        await warmUp();
        for (let i = done(); i < rounds; i++) {
          for (const l of LOADS) {
            const order = i % 2 === 0 ? ['none', 'shadow'] : ['shadow', 'none'];
            for (const mode of order) {
              const key = `${mode}-${l.name}`;
              if ((tr.p50[key]?.length ?? 0) > i) continue;
              await policy(mode === 'shadow');
              const before = await shadowCounts();
              log(`traffic: ${mode === 'shadow' ? 'every request mirrored' : 'no shadow'}, ${l.rate ? `${l.rate} requests/s` : `closed loop, concurrency ${l.connections}`}, ${duration} s (round ${i + 1} of ${rounds})`);
              const r = await load(server.pid!, l.connections, duration, undefined, undefined, undefined, l.rate);
              const after = await shadowCounts();
              (tr.p50[key] ??= []).push(r.p50);
              (tr.p99[key] ??= []).push(r.p99);
              (tr.rps[key] ??= []).push(ok(r) / duration);
              if (mode === 'shadow') {
                tr.shadow[`compared-${l.name}`] = (tr.shadow[`compared-${l.name}`] ?? 0) + after.compared - before.compared;
                tr.shadow[`dropped-${l.name}`] = (tr.shadow[`dropped-${l.name}`] ?? 0) + after.dropped - before.dropped;
              }
              await save();
              log(`  p50 ${r.p50} ms, p99 ${r.p99} ms, ${(ok(r) / duration).toFixed(0)} req/s`);
            }
          }
        }
      } finally {
        await stopServer(server);
        await rm(dir, { recursive: true, force: true });
      }
    }
  }
}
