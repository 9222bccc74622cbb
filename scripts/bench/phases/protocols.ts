/** protocols: the native API and the Open Inference Protocol on one ONNX Runtime server at concurrency 32, alternating request forms, --rounds each. */
import autocannon from 'autocannon';
import { base, duration, images, log, results, save, values, want } from '../context.js';
import { fixtureRequests, load, ok, startServer, stopServer, v2Binary, v2PixelRequests, warmUp } from '../harness.js';


export async function run(): Promise<void> {
  if (want('protocols')) {
    const FORMS: Record<string, autocannon.Request[]> = {
      'predict multipart JPEG': fixtureRequests,
      'v2 binary UINT8 pixels': await v2PixelRequests(),
      'v2 binary BYTES JPEG': images.map((jpeg) => {
        const length = Buffer.alloc(4);
        length.writeUInt32LE(jpeg.length);
        return v2Binary({ datatype: 'BYTES', shape: [1] }, Buffer.concat([length, jpeg]));
      }),
    };
    const pr = (results.protocols ??= { rps: {}, p50: {}, errors: {} });
    const rounds = Number(values.rounds);
    const names = Object.keys(FORMS);
    const done = (): number => Math.min(...names.map((n) => pr.rps[n]?.length ?? 0));
    if (done() < rounds) {
      const server = await startServer({ CACHE_MAX_ENTRIES: '0', INFERENCE_RUNTIME: 'onnx' });
      try {
        await warmUp();
        for (const name of names) await autocannon({ url: base, connections: 8, duration: 2, requests: FORMS[name]! });
        for (let i = done(); i < rounds; i++) {
          // Each round in another order, so that no form always runs first.
          const order = names.map((_, k) => names[(k + i) % names.length]!);
          for (const name of order) {
            if ((pr.rps[name]?.length ?? 0) > i) continue;
            log(`protocols: ${name}, concurrency 32, ${duration} s (round ${i + 1} of ${rounds})`);
            const r = await load(server.pid!, 32, duration, undefined, undefined, FORMS[name]);
            (pr.rps[name] ??= []).push(ok(r) / duration);
            (pr.p50[name] ??= []).push(r.p50);
            pr.errors[name] = (pr.errors[name] ?? 0) + r.errors + r.timeouts + r.requests - ok(r);
            await save();
            log(`  ${(ok(r) / duration).toFixed(0)} req/s (200), p50 ${r.p50} ms`);
          }
        }
      } finally {
        await stopServer(server);
      }
    }
  }
}
