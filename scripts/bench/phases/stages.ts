/**
 * stages: what one request costs, form by form. For /predict with a multipart JPEG and with
 * JSON base64, a tabular row, V2 binary UINT8 pixels, V2 JSON, a cache hit and /health: 200s
 * per second at concurrency 32, p50 at concurrency 1 (sequential keep-alive requests timed to
 * the microsecond), and the server's CPU per request (all threads, /proc) split into the
 * inference threads' time (mlapi_inference_thread_cpu_seconds_total: the runtime, and each
 * batch received and answered) and everything else. With --baseline DIR the server built there is measured the
 * same way, alternating rounds; a server without the inference counter reports its total only.
 */
import { Agent, request as httpRequest } from 'node:http';
import autocannon from 'autocannon';
import { rssMb } from '../../lib/server-process.js';
import { base, duration, images, log, results, save, values, want } from '../context.js';
import { fixtureRequests, median, modelName, multipart, MULTIPART_HEADERS, percentile, processCpuSeconds, startServer, stopServer, v2PixelRequests, warmUp } from '../harness.js';

export const STAGE_FORMS = ['predict multipart JPEG', 'predict JSON base64', 'tabular row', 'v2 binary UINT8', 'v2 JSON UINT8', 'cache hit', '/health'] as const;
export type StageForm = (typeof STAGE_FORMS)[number];
type Form = StageForm;
type Which = 'service' | 'baseline';

export interface StageRuns {
  rps: number[];
  p50c1Ms: number[];
  cpuMs: number[];
  /** NaN where the server does not count its runtime's CPU. */
  inferenceCpuMs: number[];
  rssMb: number[];
  errors: number;
}

const json = (path: string, body: unknown): autocannon.Request => ({ method: 'POST', path, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function forms(): Promise<Record<Form, autocannon.Request[]>> {
  const pixels = await v2PixelRequests();
  const { default: sharp } = await import('sharp');
  const rgb = await Promise.all(images.map((jpeg) => sharp(jpeg).removeAlpha().raw().toBuffer()));
  return {
    'predict multipart JPEG': fixtureRequests,
    'predict JSON base64': images.map((jpeg) => json('/predict', { image: jpeg.toString('base64') })),
    'tabular row': [json('/v1/models/iris/predict', { features: { sepal_length: 6.7, sepal_width: 3.0, petal_length: 5.2, petal_width: 2.3 } })],
    'v2 binary UINT8': pixels,
    'v2 JSON UINT8': rgb.map((px) => json(`/v2/models/${modelName}/infer`, { inputs: [{ name: 'image', datatype: 'UINT8', shape: [1, 32, 32, 3], data: Array.from(px) }] })),
    // One photo again and again: every request after the first is answered from the cache.
    'cache hit': [{ method: 'POST', path: '/predict', headers: MULTIPART_HEADERS, body: multipart(images[3]!) }],
    '/health': [{ method: 'GET', path: '/health' }],
  };
}

/** The runtime's CPU seconds so far, summed over models (NaN: the server does not count it). */
async function inferenceCpuSeconds(): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const lines = text.split('\n').filter((l) => l.startsWith('mlapi_inference_thread_cpu_seconds_total '));
  if (!text.includes('# TYPE mlapi_inference_thread_cpu_seconds_total')) return Number.NaN;
  return lines.reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

/** One request on a kept-alive connection (node:http: fetch's own overhead would dwarf /health). */
function send(agent: Agent, r: autocannon.Request): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${r.path}`, { method: r.method, headers: r.headers as Record<string, string>, agent }, (res) => {
      res.on('data', () => {});
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(r.body as string | Buffer | undefined);
  });
}

/** p50 of `n` sequential keep-alive requests, after 50 unmeasured ones. */
async function p50Sequential(reqs: autocannon.Request[], n: number): Promise<number> {
  const times: number[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  for (let i = -50; i < n; i++) {
    const r = reqs[((i % reqs.length) + reqs.length) % reqs.length]!;
    const t = performance.now();
    const status = await send(agent, r);
    if (status !== 200) throw new Error(`${r.path} answered ${status}`);
    if (i >= 0) times.push(performance.now() - t);
  }
  agent.destroy();
  times.sort((a, b) => a - b);
  return Math.round(percentile(times, 50) * 1000) / 1000;
}

/** One form at concurrency 32 for --duration seconds, then p50 at concurrency 1. */
async function measure(pid: number, form: Form, reqs: autocannon.Request[], runs: StageRuns): Promise<void> {
  let rss = rssMb(pid);
  const sampler = setInterval(() => (rss = Math.max(rss, rssMb(pid))), 500);
  const inferenceBefore = await inferenceCpuSeconds();
  const cpuBefore = processCpuSeconds(pid);
  const r = await autocannon({ url: base, connections: 32, duration, timeout: 10, requests: reqs });
  const cpu = processCpuSeconds(pid) - cpuBefore;
  const inference = (await inferenceCpuSeconds()) - inferenceBefore;
  clearInterval(sampler);
  const ok = r['2xx'];
  const perRequest = (s: number): number => Math.round((s / Math.max(1, r.requests.total)) * 1e6) / 1000;
  runs.rps.push(Math.round((ok / duration) * 10) / 10);
  runs.cpuMs.push(perRequest(cpu));
  runs.inferenceCpuMs.push(perRequest(inference));
  runs.rssMb.push(rss);
  runs.errors += r.errors + r.timeouts + r.non2xx;
  runs.p50c1Ms.push(await p50Sequential(reqs, 400));
  log(`  ${form}: ${runs.rps.at(-1)} req/s, ${runs.cpuMs.at(-1)} ms CPU/request (inference ${runs.inferenceCpuMs.at(-1)}), p50 c1 ${runs.p50c1Ms.at(-1)} ms, RSS ${rss} MB`);
}

export async function run(): Promise<void> {
  if (!want('stages')) return;
  const all = await forms();
  const st = (results.stages ??= {});
  const rounds = Number(values.rounds);
  const whiches: Which[] = values.baseline ? ['service', 'baseline'] : ['service'];
  const runsOf = (which: Which, form: Form): StageRuns => ((st[which] ??= {})[form] ??= { rps: [], p50c1Ms: [], cpuMs: [], inferenceCpuMs: [], rssMb: [], errors: 0 });
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? whiches : [...whiches].reverse();
    for (const which of order) {
      const todo = STAGE_FORMS.filter((f) => runsOf(which, f).rps.length <= round);
      if (todo.length === 0) continue;
      const cwd = which === 'baseline' ? values.baseline! : '.';
      // The cache-off server for the model path, then one with the cache on for hits.
      for (const cached of [false, true]) {
        const mine = todo.filter((f) => (f === 'cache hit') === cached);
        if (mine.length === 0) continue;
        const server = await startServer({ CACHE_MAX_ENTRIES: cached ? '1000' : '0', INFERENCE_RUNTIME: 'onnx' }, cwd);
        try {
          // Warm until the JIT has settled: compiling on V8's helper threads is CPU a steady server no longer spends.
          await warmUp(5);
          for (const f of mine) await autocannon({ url: base, connections: 32, duration: 2, requests: all[f] });
          log(`stages: ${which}, round ${round + 1} of ${rounds}${cached ? ', cache on' : ''}`);
          // Each round in another order, so that no form always runs first.
          const rotated = mine.map((_, k) => mine[(k + round) % mine.length]!);
          for (const f of rotated) {
            await measure(server.pid!, f, all[f], runsOf(which, f));
            await save();
          }
        } finally {
          await stopServer(server);
        }
      }
    }
  }
}

/** The medians of each form's runs. */
export function stageMedians(runs: StageRuns): { rps: number; p50c1Ms: number; cpuMs: number; inferenceCpuMs: number; otherCpuMs: number; rssMb: number } {
  // NaN (no counter) is saved as null in results.json.
  const inferenceRuns = runs.inferenceCpuMs.map((x) => (typeof x === 'number' ? x : Number.NaN));
  if (inferenceRuns.some((x) => Number.isNaN(x))) return { rps: median(runs.rps), p50c1Ms: median(runs.p50c1Ms), cpuMs: median(runs.cpuMs), inferenceCpuMs: Number.NaN, otherCpuMs: Number.NaN, rssMb: Math.max(...runs.rssMb) };
  const inference = median(inferenceRuns);
  const cpu = median(runs.cpuMs);
  return { rps: median(runs.rps), p50c1Ms: median(runs.p50c1Ms), cpuMs: cpu, inferenceCpuMs: inference, otherCpuMs: median(runs.cpuMs.map((c, i) => c - runs.inferenceCpuMs[i]!)), rssMb: Math.max(...runs.rssMb) };
}
