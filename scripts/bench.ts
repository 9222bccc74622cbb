/**
 * Throughput benchmark: the real service under HTTP load, against the engine's ceiling and
 * the naive design, measured in the same run.
 *
 *   npm run bench -- [--duration 10] [--concurrency 1,8,32,128] [--soak 120] [--out reports/bench] [--resume]
 *                    [--phases ceiling,service,…] [--rounds 4]
 *
 * Phases (each result is saved as it completes; --resume skips finished phases):
 *   ceiling   the bare model on each runtime (TF.js, ONNX Runtime), same weights, in worker
 *             threads at batch MAX_BATCH_SIZE, no HTTP; as images/s and as a fraction of the
 *             CPU's FP32 peak (cores × clock × SIMD lanes × 2 FMA units × 2 flops)
 *   service   the default configuration (worker instances + dynamic batching) at each
 *             concurrency, once per runtime (INFERENCE_RUNTIME=tfjs | onnx)
 *   threading ONNX Runtime at concurrency 32: on the main thread (INFERENCE_WORKERS=0), one
 *             worker with 2 intra-op threads, one worker per core with 1 each
 *   profile   a CPU profile of the server (every thread) at concurrency 32 on ONNX Runtime
 *   runtimes  TF.js and ONNX Runtime servers alternately, --rounds each, at concurrency 1 and 32:
 *             single runs vary too much on a shared VM to compare two configurations
 *   naive     INFERENCE_WORKERS=0 MAX_BATCH_SIZE=1: one instance on the main thread, no batching
 *   cache     repeated image (hit path) vs distinct images (miss path), embedded LRU and Redis;
 *             sequential keep-alive latency of hits and misses; the cost of a /metrics scrape
 *   soak      the service at concurrency 32 for --soak seconds, RSS sampled over time
 *   protocols the native API and the Open Inference Protocol on one ONNX Runtime server at
 *             concurrency 32, alternating, --rounds each: /predict with a multipart JPEG; V2
 *             binary infer with UINT8 pixels [1, 32, 32, 3]; V2 binary infer with the JPEG as BYTES
 *   traffic   shadow traffic's cost to primary latency: one server with two versions of the
 *             model, /predict at concurrency 1 and 8 with no shadow and with every request
 *             mirrored to the other version (fraction 1), alternating, --rounds each
 *   baseline  with --baseline DIR: the server built in DIR (a checkout of another revision,
 *             run with its own defaults and bundled model) against this one at concurrency 32,
 *             --rounds times each, alternating which goes first (10-s runs on this VM vary by
 *             ±20 % even between two runs of the same code); the medians are compared
 *
 * service, naive and soak run with the cache off (CACHE_MAX_ENTRIES=0): they measure the model path,
 * each server after 3 s of unmeasured warm-up load. Every load run also probes /health and /ready,
 * and a trivial HTTP server in its own process: that reference is what probes can get from this
 * machine under the same load.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import autocannon from 'autocannon';
import sharp from 'sharp';
import { InstancePool } from '../src/inference/pool.js';
import { inputSizeOf, readImageMetadata } from '../src/kinds/image/metadata.js';
import { openKind } from './lib/kind.js';
import type { RuntimeName } from '../src/runtimes/runtime.js';
import { runtimeSpec } from '../src/runtimes/select.js';
import { cpuPeak, type CpuPeak } from './lib/cpu-peak.js';
import { summarizeProfiles, type ProfileSummary } from './lib/cpu-profile.js';
import { rssMb, waitUntilReady } from './lib/server-process.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '1,8,32,128' },
    soak: { type: 'string', default: '0' },
    out: { type: 'string', default: 'reports/bench' },
    model: { type: 'string', default: 'models/cifar10/1' },
    repository: { type: 'string', default: 'models' },
    port: { type: 'string', default: '8190' },
    resume: { type: 'boolean', default: false },
    'redis-port': { type: 'string', default: '6391' },
    baseline: { type: 'string' },
    rounds: { type: 'string', default: '4' },
    phases: { type: 'string', default: 'all' },
  },
});

const PHASES = ['ceiling', 'service', 'naive', 'threading', 'runtimes', 'profile', 'baseline', 'soak', 'cache', 'protocols', 'traffic'] as const;
const chosen = new Set(values.phases === 'all' ? PHASES : values.phases.split(',').map((p) => p.trim()));
for (const p of chosen) if (!(PHASES as readonly string[]).includes(p)) throw new Error(`unknown phase '${p}'; one of ${PHASES.join(', ')}`);
/** Whether this run measures `phase` (--phases, default all). */
const want = (phase: (typeof PHASES)[number]): boolean => chosen.has(phase);

const duration = Number(values.duration);
const concurrencies = values.concurrency.split(',').map(Number);
const workers = availableParallelism();
const maxBatch = 32;
const port = Number(values.port);
const base = `http://127.0.0.1:${port}`;
const resultsFile = join(values.out, 'results.json');
const images = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'].map((l) =>
  readFileSync(join('tests', 'fixtures', 'images', `${l}.jpg`)),
);

interface LoadResult {
  concurrency: number;
  requests: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  statuses: Record<string, number>;
  errors: number;
  timeouts: number;
  rssMaxMb: number;
  probeP99Ms: number | null;
  /** The same probes against a trivial HTTP server in its own process: the machine's floor. */
  referenceProbeP99Ms?: number | null;
}

interface Ceiling {
  imagesPerSecond: number;
  workers: number;
  batch: number;
  /** ONNX Runtime intra-op threads per worker. */
  intraOpThreads?: number;
}

const RUNTIMES: RuntimeName[] = ['tfjs', 'onnx'];

interface Results {
  machine: { cpus: number; node: string; peak?: CpuPeak };
  model: string;
  ceiling?: Partial<Record<RuntimeName, Ceiling>>;
  /** Keyed `<runtime>-<concurrency>`. */
  service: Record<string, LoadResult>;
  threading?: Record<string, LoadResult>;
  /** Concurrency 32, alternating TF.js and ONNX Runtime servers, --rounds each: 200s per second. */
  runtimeRounds?: Record<RuntimeName, number[]> & { p50c1?: Record<RuntimeName, number[]> };
  profile?: ProfileSummary;
  naive: Record<string, LoadResult>;
  /** This server and another revision's (--baseline) at concurrency 32, alternating. */
  baseline?: { dir: string; concurrency: number; service: number[]; baseline: number[] };
  cache?: Record<string, LoadResult>;
  /** Sequential keep-alive requests, timed to the microsecond (autocannon rounds to ms). */
  sequential?: Record<string, { requests: number; p50Ms: number; p99Ms: number; meanMs: number }>;
  soak?: { seconds: number; concurrency: number; rps: number; rssMb: number[]; driftPct: number; statuses: Record<string, number> };
  /** Concurrency 32 on one ONNX Runtime server, alternating request forms, --rounds each: 200s per second and p50. */
  protocols?: { rps: Record<string, number[]>; p50: Record<string, number[]>; errors: Record<string, number> };
  /** Keyed `<shadow|none>-<concurrency>`: p50 and p99 of primary latency per round, and the shadow counts. */
  traffic?: { p50: Record<string, number[]>; p99: Record<string, number[]>; rps: Record<string, number[]>; shadow?: Record<string, number> };
}

const results: Results =
  values.resume && existsSync(resultsFile)
    ? (JSON.parse(await readFile(resultsFile, 'utf8')) as Results)
    : { machine: { cpus: workers, node: process.version }, model: values.model, service: {}, naive: {} };
// Recomputed on every run (also on --resume): the fractions below are derived from it.
results.machine.peak = cpuPeak();

async function save(): Promise<void> {
  await mkdir(values.out, { recursive: true });
  await writeFile(resultsFile, `${JSON.stringify(results, null, 2)}\n`);
}

function log(line: string): void {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);
}

/** Images/s of the bare model: every worker kept busy with full batches, no HTTP, no decoding. */
async function measureCeiling(runtime: RuntimeName, seconds: number, intraOpThreads = 1): Promise<number> {
  const meta = await readImageMetadata(values.model);
  const size = inputSizeOf(meta);
  const kind = await openKind(values.model);
  const spec = await runtimeSpec(values.model, kind.runtime, kind.signature, Number.MAX_SAFE_INTEGER, { choice: runtime, onnxThreads: intraOpThreads });
  const pool = await InstancePool.start({ workers, backend: 'auto', warmupRuns: 2, workerNice: 0 });
  await pool.load('bench', spec);
  const input = new Float32Array(maxBatch * size).map(() => Math.random() - 0.5);
  let done = 0;
  const end = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.max(1, workers) }, async () => {
      while (performance.now() < end) {
        await pool.run('bench', input.slice(), maxBatch);
        done += maxBatch;
      }
    }),
  );
  const rate = done / ((performance.now() - started) / 1000);
  await pool.close();
  return rate;
}

const BOUNDARY = 'benchboundary7MA4YWxkTrZu0gW';
const MULTIPART_HEADERS = { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` };

function multipart(bytes: Buffer, boundary = BOUNDARY): Buffer {
  return Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="image.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`),
    bytes,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
}

/** One /predict request per fixture photo, built once. */
const fixtureRequests = images.map((bytes) => ({ method: 'POST' as const, path: '/predict', headers: MULTIPART_HEADERS, body: multipart(bytes) }));

/**
 * Probes every 25 ms from a worker thread: /health and /ready of the service and, as the floor
 * this machine allows under the same load, a trivial HTTP server in a process of its own.
 * `stop` returns each one's latencies, sorted.
 */
function startProber(service: string, reference: string): { stop: () => Promise<{ service: number[]; reference: number[] }> } {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    let probing = true;
    const times = { service: [], reference: [] };
    const timed = async (key, url) => {
      const t = performance.now();
      await fetch(url).then((r) => r.arrayBuffer());
      times[key].push(performance.now() - t);
    };
    parentPort.once('message', () => { probing = false; });
    (async () => {
      while (probing) {
        await timed('service', workerData.service + '/health');
        await timed('service', workerData.service + '/ready');
        await timed('reference', workerData.reference);
        await new Promise((r) => setTimeout(r, 25));
      }
      parentPort.postMessage(times);
    })();`;
  const worker = new Worker(code, { eval: true, workerData: { service, reference } });
  const done = new Promise<{ service: number[]; reference: number[] }>((resolve, reject) => {
    worker.once('message', (times: { service: number[]; reference: number[] }) => {
      times.service.sort((a, b) => a - b);
      times.reference.sort((a, b) => a - b);
      resolve(times);
    });
    worker.once('error', reject);
  });
  return {
    stop: async () => {
      worker.postMessage('stop');
      const times = await done;
      await worker.terminate();
      return times;
    },
  };
}

/** The probe floor: a Node HTTP server that answers `{"status":"ok"}` and does nothing else. */
async function startReferenceServer(): Promise<{ url: string; stop: () => void }> {
  const code = `require('node:http').createServer((q, r) => { r.setHeader('content-type', 'application/json'); r.end('{"status":"ok"}'); })
    .listen(0, '127.0.0.1', function () { process.stdout.write(String(this.address().port) + '\\n'); });`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve, reject) => {
    child.once('error', reject);
    child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim()));
  });
  return { url: `http://127.0.0.1:${port}/`, stop: () => child.kill('SIGKILL') };
}

async function startServer(env: Record<string, string>, cwd = '.', nodeArgs: string[] = []): Promise<ChildProcess> {
  // The built server (npm run build), as production runs it.
  const child = spawn(process.execPath, [...nodeArgs, 'dist/server.js'], {
    cwd,
    // MALLOC_ARENA_MAX as the Docker image sets it.
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', MODEL_REPOSITORY: values.repository, MALLOC_ARENA_MAX: '2', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    await waitUntilReady(base, 30_000);
    return child;
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
}

async function stopServer(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Drive /predict at `concurrency` for `seconds`, probing /health and /ready and sampling RSS meanwhile. */
async function load(pid: number, concurrency: number, seconds: number, rssTrace?: number[], bodies?: () => Buffer, requests?: autocannon.Request[], overallRate?: number): Promise<LoadResult> {
  let rssMax = rssMb(pid);
  const sampler = setInterval(() => {
    const r = rssMb(pid);
    rssMax = Math.max(rssMax, r);
    rssTrace?.push(r);
  }, 1000);
  // Probes run on their own thread: timed on this thread they would measure the load
  // generator's busy event loop instead of the server.
  const reference = await startReferenceServer();
  const prober = startProber(base, reference.url);
  const result = await autocannon({
    url: `${base}/predict`,
    connections: concurrency,
    duration: seconds,
    timeout: 10,
    ...(overallRate && { overallRate }),
    requests:
      requests ??
      (bodies ? [{ method: 'POST' as const, path: '/predict', headers: MULTIPART_HEADERS, setupRequest: (req) => ({ ...req, body: bodies() }) }] : fixtureRequests),
  });
  const probes = await prober.stop();
  reference.stop();
  clearInterval(sampler);
  const statuses: Record<string, number> = {};
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statuses[code] = stat?.count ?? 0;
  return {
    concurrency,
    requests: result.requests.total,
    rps: Math.round(result.requests.average * 10) / 10,
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    max: result.latency.max,
    statuses,
    errors: result.errors ?? 0,
    timeouts: result.timeouts ?? 0,
    rssMaxMb: rssMax,
    probeP99Ms: p99(probes.service),
    referenceProbeP99Ms: p99(probes.reference),
  };
}

/**
 * Unmeasured load before a server's first measured run, as a client's first seconds would see:
 * the JIT compiles the request path, pools and buffers reach their working size.
 */
async function warmUp(seconds = 3): Promise<void> {
  await autocannon({
    url: `${base}/predict`,
    connections: 8,
    duration: seconds,
    requests: fixtureRequests,
  });
}

function p99(sorted: number[]): number | null {
  return sorted.length ? Math.round(percentile(sorted, 99) * 100) / 100 : null;
}

function ok(r: LoadResult): number {
  return r.statuses['200'] ?? 0;
}

function table(rows: [string, LoadResult][]): string {
  const lines = [
    '| run | conc. | req/s (200) | p50 ms | p90 ms | p99 ms | statuses | errors/timeouts | max RSS MB | /health+/ready p99 ms | reference probe p99 ms |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: |',
  ];
  for (const [name, r] of rows) {
    const okRps = Math.round((ok(r) / duration) * 10) / 10;
    const statuses = Object.entries(r.statuses).map(([c, n]) => `${c}: ${n}`).join(', ');
    lines.push(`| ${name} | ${r.concurrency} | ${okRps} | ${r.p50} | ${r.p90} | ${r.p99} | ${statuses} | ${r.errors}/${r.timeouts} | ${r.rssMaxMb} | ${r.probeP99Ms ?? '-'} | ${r.referenceProbeP99Ms ?? '-'} |`);
  }
  return lines.join('\n');
}

// --- phases ----------------------------------------------------------------
const flopsPerImage = 2 * (await readImageMetadata(values.model)).multiplyAdds;
/** images/s × FLOPs per image ÷ the CPU's FP32 peak. */
const peakShare = (imagesPerSecond: number): number => (imagesPerSecond * flopsPerImage) / (results.machine.peak!.gflops * 1e9);
results.ceiling ??= {};
for (const runtime of want('ceiling') ? RUNTIMES : []) {
  if (!results.ceiling[runtime]) {
    log(`ceiling ${runtime}: ${workers} worker(s), batch ${maxBatch}, ${duration} s`);
    const rate = Math.round(await measureCeiling(runtime, duration));
    results.ceiling[runtime] = { imagesPerSecond: rate, workers, batch: maxBatch, ...(runtime === 'onnx' && { intraOpThreads: 1 }) };
    await save();
  }
  log(`ceiling ${runtime}: ${results.ceiling[runtime].imagesPerSecond} images/s (${(peakShare(results.ceiling[runtime].imagesPerSecond) * 100).toFixed(1)} % of FP32 peak)`);
}

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

if (want('service')) for (const runtime of RUNTIMES) await measureRuns('service', concurrencies, { CACHE_MAX_ENTRIES: '0', INFERENCE_RUNTIME: runtime }, `${runtime}-`);
if (want('naive')) await measureRuns('naive', [8, 32], { INFERENCE_WORKERS: '0', MAX_BATCH_SIZE: '1', MAX_QUEUE: '100000', CACHE_MAX_ENTRIES: '0', INFERENCE_RUNTIME: 'tfjs' });
// How ONNX Runtime is best driven: its run() holds the calling JS thread until the batch is done.
const THREADING: Record<string, Record<string, string>> = {
  'main-thread-intra2-': { INFERENCE_WORKERS: '0', ONNX_INTRA_OP_THREADS: String(workers) },
  'one-worker-intra2-': { INFERENCE_WORKERS: '1', ONNX_INTRA_OP_THREADS: String(workers) },
  [`${workers}-workers-intra1-`]: { INFERENCE_WORKERS: String(workers), ONNX_INTRA_OP_THREADS: '1' },
};
if (want('threading')) for (const [prefix, env] of Object.entries(THREADING)) await measureRuns('threading', [32], { CACHE_MAX_ENTRIES: '0', INFERENCE_RUNTIME: 'onnx', ...env }, prefix);
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

/** CPU seconds (user + system) the process has used, all its threads together (Linux). */
function processCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
const usage = { cpuPerRequestMs: 0, cores: 0 };
if (want('profile') && !results.profile) {
  const dir = join(values.out, 'profile');
  const server = await startServer({ CACHE_MAX_ENTRIES: '0', INFERENCE_RUNTIME: 'onnx' }, '.', ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
  try {
    await warmUp();
    log(`profile: onnx, concurrency 32, ${duration} s`);
    const cpuBefore = processCpuSeconds(server.pid!);
    const r = await load(server.pid!, 32, duration);
    const cpu = processCpuSeconds(server.pid!) - cpuBefore;
    usage.cpuPerRequestMs = Math.round((cpu / Math.max(1, r.requests)) * 1e5) / 100;
    usage.cores = Math.round((cpu / duration) * 100) / 100;
  } finally {
    await stopServer(server);
  }
  results.profile = await summarizeProfiles(dir);
  results.profile.lines.push('', `The server process used ${usage.cores} cores of CPU over the run (all threads, libvips and ONNX Runtime included): ${usage.cpuPerRequestMs} ms of CPU per request.`);
  await save();
}
if (want('baseline') && values.baseline) {
  const dir = values.baseline;
  const cmp = (results.baseline ??= { dir, concurrency: 32, service: [], baseline: [] });
  const rounds = Number(values.rounds);
  /** One server (this one, or the baseline's in its own folder with its own defaults), warmed, at c32. */
  const once = async (which: 'service' | 'baseline'): Promise<void> => {
    const server = await startServer({ CACHE_MAX_ENTRIES: '0' }, which === 'baseline' ? dir : '.');
    try {
      await warmUp();
      log(`${which}: concurrency 32, ${duration} s (round ${cmp[which].length + 1} of ${rounds})`);
      const r = await load(server.pid!, 32, duration);
      cmp[which].push(r.errors + r.timeouts > 0 ? 0 : ok(r) / duration);
      await save();
      log(`  ${r.rps} req/s`);
    } finally {
      await stopServer(server);
    }
  };
  for (let i = Math.min(cmp.service.length, cmp.baseline.length); i < rounds; i++) {
    const order: ('service' | 'baseline')[] = i % 2 === 0 ? ['service', 'baseline'] : ['baseline', 'service'];
    for (const which of order) if (cmp[which].length <= i) await once(which);
  }
}

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

// --- prediction cache and /metrics ----------------------------------------------
/**
 * `n` distinct uploads: the fixture photos, each with a JPEG comment segment (COM) holding
 * its number. The bytes (and so the cache key) differ; the pixels, and the work, do not.
 */
function uniqueBodies(n: number): Buffer[] {
  return Array.from({ length: n }, (_, k) => {
    const jpeg = images[k % images.length]!;
    const text = Buffer.from(`bench ${k}`);
    const com = Buffer.concat([Buffer.from([0xff, 0xfe, 0, text.length + 2]), text]);
    return multipart(Buffer.concat([jpeg.subarray(0, 2), com, jpeg.subarray(2)]));
  });
}

async function sequential(path: string, requests: number, init: () => RequestInit): Promise<{ requests: number; p50Ms: number; p99Ms: number; meanMs: number }> {
  const times: number[] = [];
  for (let i = 0; i < requests; i++) {
    const t = performance.now();
    const res = await fetch(`${base}${path}`, init());
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${path} answered ${res.status}`);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const r2 = (x: number): number => Math.round(x * 100) / 100;
  return { requests, p50Ms: r2(percentile(times, 50)), p99Ms: r2(percentile(times, 99)), meanMs: r2(times.reduce((a, b) => a + b, 0) / times.length) };
}

async function startRedis(): Promise<ChildProcess | undefined> {
  const child = spawn('redis-server', ['--port', values['redis-port'], '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'ignore'] });
  return new Promise((resolve) => {
    child.once('error', () => resolve(undefined));
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('Ready to accept connections')) resolve(child);
    });
  });
}

results.cache ??= {};
results.sequential ??= {};
const cacheRuns = ['memory', 'redis'].flatMap((store) => [1, 32].flatMap((c) => ['miss', 'hit'].map((path) => `${store}-${path}-${c}`)));
if (want('cache') && (cacheRuns.some((k) => !results.cache![k]) || !results.sequential['metrics-scrape'])) {
  const unique = uniqueBodies(Math.ceil(duration * 1000) + 2000);
  let next = 0;
  const nextUnique = (): Buffer => unique[next++ % unique.length]!;
  const same = multipart(images[3]!);
  for (const store of ['memory', 'redis'] as const) {
    next = 0; // a fresh server and a fresh Redis: every distinct image misses again
    const redis = store === 'redis' ? await startRedis() : undefined;
    if (store === 'redis' && !redis) {
      log('cache: redis-server not found; skipping the Redis runs (apt-get install redis-server)');
      continue;
    }
    const server = await startServer(store === 'redis' ? { REDIS_URL: `redis://127.0.0.1:${values['redis-port']}` } : {});
    try {
      for (const c of [1, 32]) {
        for (const path of ['miss', 'hit'] as const) {
          const key = `${store}-${path}-${c}`;
          if (results.cache[key]) continue;
          log(`cache: ${store}, ${path} path, concurrency ${c}, ${duration} s`);
          results.cache[key] = await load(server.pid!, c, duration, undefined, path === 'hit' ? () => same : nextUnique);
          await save();
          log(`  ${results.cache[key].rps} req/s, p50 ${results.cache[key].p50} ms`);
        }
      }
      const post = (body: () => Buffer) => () => ({ method: 'POST', headers: MULTIPART_HEADERS, body: body() });
      log(`cache: ${store}, sequential keep-alive requests`);
      results.sequential[`${store}-hit`] = await sequential('/predict', 2000, post(() => same));
      results.sequential[`${store}-miss`] = await sequential('/predict', 2000, post(nextUnique));
      if (store === 'memory') {
        log('metrics: sequential scrapes');
        results.sequential['metrics-scrape'] = await sequential('/metrics', 500, () => ({}));
        results.sequential['metrics-json'] = await sequential('/metrics', 500, () => ({ headers: { accept: 'application/json' } }));
      }
      await save();
    } finally {
      await stopServer(server);
      redis?.kill('SIGKILL');
    }
  }
}

// --- the native API and the Open Inference Protocol ------------------------------
/** A V2 binary request: the JSON header, then the tensors' bytes (Triton's binary tensor data extension). */
function v2Binary(input: { datatype: string; shape: number[] }, blob: Buffer): autocannon.Request {
  const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'image', ...input, parameters: { binary_data_size: blob.length } }], parameters: { binary_data_output: true } }));
  return { method: 'POST', path: `/v2/models/${modelName}/infer`, headers: { 'inference-header-content-length': String(header.length), 'content-type': 'application/octet-stream' }, body: Buffer.concat([header, blob]) };
}
const modelName = values.model.split('/').at(-2)!;
if (want('protocols')) {
  const rgb = await Promise.all(images.map((jpeg) => sharp(jpeg).removeAlpha().raw().toBuffer()));
  const FORMS: Record<string, autocannon.Request[]> = {
    'predict multipart JPEG': fixtureRequests,
    'v2 binary UINT8 pixels': rgb.map((pixels) => v2Binary({ datatype: 'UINT8', shape: [1, 32, 32, 3] }, pixels)),
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

// --- traffic: what shadow copies cost the primary answers ---------------------------------
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

// --- report ----------------------------------------------------------------
const rows: [string, LoadResult][] = [
  ...Object.entries(results.service).map(([k, r]): [string, LoadResult] => [`service ${k.replace(/-\d+$/, '')}`, r]),
  ...Object.values(results.naive).map((r): [string, LoadResult] => ['naive (tfjs, main thread, batch 1)', r]),
  ...Object.entries(results.threading ?? {}).map(([k, r]): [string, LoadResult] => [`onnx ${k.replace(/-\d+$/, '')}`, r]),
];
const s32 = results.service['onnx-32'];
const t32 = results.service['tfjs-32'];
const n32 = results.naive['32'];
const ratios: string[] = [];
const ce = results.ceiling ?? {};
if (ce.onnx && ce.tfjs) ratios.push(`engine ceiling, ONNX Runtime ÷ TF.js (same weights): ${(ce.onnx.imagesPerSecond / ce.tfjs.imagesPerSecond).toFixed(2)}×`);
if (s32 && t32) ratios.push(`service at concurrency 32, ONNX Runtime ÷ TF.js, single runs of the table: ${(ok(s32) / ok(t32)).toFixed(2)}×`);
for (const runtime of RUNTIMES) {
  const s = results.service[`${runtime}-32`];
  const c = ce[runtime];
  if (s && c) ratios.push(`${runtime}: service ÷ ceiling at concurrency 32: ${(ok(s) / duration / c.imagesPerSecond).toFixed(2)}`);
}
if (s32 && n32) ratios.push(`service (onnx) ÷ naive at concurrency 32: ${(ok(s32) / ok(n32)).toFixed(2)}`);
function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
const fmt = (xs: number[]): string => xs.map((x) => x.toFixed(0)).join(', ');
const cmp = results.baseline;
if (cmp && cmp.service.length > 0 && cmp.baseline.length > 0) {
  ratios.push(
    `service ÷ baseline (${cmp.dir}) at concurrency 32, median of ${cmp.service.length} alternating runs: ${(median(cmp.service) / median(cmp.baseline)).toFixed(2)} (this code ${fmt(cmp.service)} req/s; baseline ${fmt(cmp.baseline)} req/s)`,
  );
}
const rr = results.runtimeRounds;
if (rr && rr.tfjs.length > 0 && rr.onnx.length > 0) {
  ratios.push(
    `service at concurrency 32, ONNX Runtime ÷ TF.js, median of ${rr.onnx.length} alternating rounds: ${(median(rr.onnx) / median(rr.tfjs)).toFixed(2)}× (onnx ${fmt(rr.onnx)} req/s; tfjs ${fmt(rr.tfjs)} req/s)`,
  );
  if (rr.p50c1) ratios.push(`p50 at concurrency 1, median of the rounds: onnx ${median(rr.p50c1.onnx)} ms (${rr.p50c1.onnx.join(', ')}), tfjs ${median(rr.p50c1.tfjs)} ms (${rr.p50c1.tfjs.join(', ')})`);
}
const pr = results.protocols;
if (pr && Object.keys(pr.rps).length > 0) {
  const native = pr.rps['predict multipart JPEG'];
  for (const [name, xs] of Object.entries(pr.rps)) {
    const vs = native && name !== 'predict multipart JPEG' ? `; ${(median(xs) / median(native)).toFixed(2)}× /predict multipart` : '';
    ratios.push(`protocols, concurrency 32, onnx, median of ${xs.length} alternating rounds: ${name} ${median(xs).toFixed(0)} req/s (${fmt(xs)}), p50 ${median(pr.p50[name]!)} ms, non-200 or errors ${pr.errors[name] ?? 0}${vs}`);
  }
}
const tra = results.traffic;
if (tra && Object.keys(tra.p50).length > 0) {
  for (const l of ['rate50', 'c1', 'c8']) {
    const none = tra.p50[`none-${l}`];
    const shadow = tra.p50[`shadow-${l}`];
    if (!none || !shadow) continue;
    const what = l === 'rate50' ? '50 requests/s' : `closed loop at concurrency ${l.slice(1)}`;
    ratios.push(
      `traffic, ${what}, median of ${none.length} alternating rounds: primary p50 ${median(none)} ms without shadow (${none.join(', ')}), ${median(shadow)} ms with every request mirrored (${shadow.join(', ')}); p99 ${median(tra.p99[`none-${l}`]!)} vs ${median(tra.p99[`shadow-${l}`]!)} ms; ${median(tra.rps[`none-${l}`]!).toFixed(0)} vs ${median(tra.rps[`shadow-${l}`]!).toFixed(0)} req/s; shadow copies compared ${tra.shadow?.[`compared-${l}`] ?? 0}, dropped ${tra.shadow?.[`dropped-${l}`] ?? 0}`,
    );
  }
}
const s8 = results.service['onnx-8'];
// A closed loop of c clients: mean latency = c ÷ throughput (Little's law), whatever the server does.
if (s8) ratios.push(`concurrency 8 is a closed loop: mean latency = 8 ÷ ${(ok(s8) / duration).toFixed(0)} req/s = ${((8 / (ok(s8) / duration)) * 1000).toFixed(1)} ms`);
function cacheReport(): string[] {
  const c = results.cache ?? {};
  const q = results.sequential ?? {};
  const rows = Object.entries(c).map(([k, r]): [string, LoadResult] => [`cache ${k.replace(/-\d+$/, '')}`, r]);
  if (rows.length === 0) return [];
  const lines = ['', 'Prediction cache (repeated image = hit path; distinct images = miss path):', '', table(rows), ''];
  for (const store of ['memory', 'redis']) {
    const hit = c[`${store}-hit-32`];
    const miss = c[`${store}-miss-32`];
    if (hit && miss) lines.push(`- ${store} cache: hit ÷ miss throughput at concurrency 32: ${(ok(hit) / ok(miss)).toFixed(1)}×`);
    const sh = q[`${store}-hit`];
    const sm = q[`${store}-miss`];
    if (sh && sm) lines.push(`- ${store} cache, sequential keep-alive: hit p50 ${sh.p50Ms} ms (p99 ${sh.p99Ms}), miss p50 ${sm.p50Ms} ms (p99 ${sm.p99Ms})`);
  }
  const scrape = q['metrics-scrape'];
  const json = q['metrics-json'];
  if (scrape) lines.push(`- /metrics scrape, sequential: p50 ${scrape.p50Ms} ms, p99 ${scrape.p99Ms} ms (JSON summary: p50 ${json?.p50Ms} ms, p99 ${json?.p99Ms} ms)`);
  return lines;
}

const peak = results.machine.peak!;
const ceilingLines = RUNTIMES.flatMap((r) => {
  const c = ce[r];
  return c ? [`- ${r}: **${c.imagesPerSecond} images/s** (${c.workers} worker thread(s)${c.intraOpThreads ? `, ${c.intraOpThreads} intra-op thread each` : ''}, batch ${c.batch}, no HTTP) = ${((c.imagesPerSecond * flopsPerImage) / 1e9).toFixed(0)} GFLOP/s = ${(peakShare(c.imagesPerSecond) * 100).toFixed(1)} % of the FP32 peak`] : [];
});
const profileLines = results.profile ? ['', 'CPU profile of the server at concurrency 32 on ONNX Runtime (self time, all threads):', '', ...results.profile.lines] : [];
const md = [
  // Phases not run (--phases) leave their parts out.
  ...(ceilingLines.length > 0
    ? [`Engine ceiling, same CIFAR-10 weights (${(flopsPerImage / 1e6).toFixed(1)} MFLOP per image):`, '', ...ceilingLines, `- FP32 peak: ${peak.gflops.toFixed(0)} GFLOP/s = ${peak.derivation}`, '']
    : []),
  ...(rows.length > 0 ? [table(rows), ''] : []),
  ...ratios.map((r) => `- ${r}`),
  ...profileLines,
  ...cacheReport(),
  ...(results.soak ? [`- soak: ${results.soak.seconds} s at concurrency 32, ${results.soak.rps} req/s, RSS ${results.soak.rssMb[5]} → ${results.soak.rssMb.at(-1)} MB (drift ${results.soak.driftPct}%)`] : []),
  '',
  `${results.machine.cpus} CPUs, Node ${results.machine.node}; ${duration} s per run; load generator (autocannon) on the same machine; 32×32 JPEG uploads as multipart.`,
].join('\n');
await writeFile(join(values.out, 'results.md'), `${md}\n`);
console.log(`\n${md}\n`);
log(`wrote ${resultsFile} and ${join(values.out, 'results.md')}`);
