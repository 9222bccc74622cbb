/** The harness every phase drives: the server process, the load generator, probes, request bodies. */
import { spawn, type ChildProcess } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import autocannon from 'autocannon';
import sharp from 'sharp';
import { rssMb, startFlags, stopServer, waitUntilReady } from '../lib/server-process.js';
import { base, duration, images, port, values, type LoadResult } from './context.js';

export const BOUNDARY = 'benchboundary7MA4YWxkTrZu0gW';
export const MULTIPART_HEADERS = { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` };

export function multipart(bytes: Buffer, boundary = BOUNDARY): Buffer {
  return Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="image.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`),
    bytes,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
}

/** One /predict request per fixture photo, built once. */
export const fixtureRequests = images.map((bytes) => ({ method: 'POST' as const, path: '/predict', headers: MULTIPART_HEADERS, body: multipart(bytes) }));

/**
 * Probes every 25 ms from a worker thread: /health and /ready of the service and, as the floor
 * this machine allows under the same load, a trivial HTTP server in a process of its own.
 * `stop` returns each one's latencies, sorted.
 */
export function startProber(service: string, reference: string): { stop: () => Promise<{ service: number[]; reference: number[] }> } {
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
export async function startReferenceServer(): Promise<{ url: string; stop: () => void }> {
  const code = `require('node:http').createServer((q, r) => { r.setHeader('content-type', 'application/json'); r.end('{"status":"ok"}'); })
    .listen(0, '127.0.0.1', function () { process.stdout.write(String(this.address().port) + '\\n'); });`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve, reject) => {
    child.once('error', reject);
    child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim()));
  });
  return { url: `http://127.0.0.1:${port}/`, stop: () => child.kill('SIGKILL') };
}

export async function startServer(env: Record<string, string>, cwd = '.', nodeArgs: string[] = []): Promise<ChildProcess> {
  // The built server (npm run build), as production runs it: with the flags of that revision's npm start.
  const child = spawn(process.execPath, [...startFlags(cwd), ...nodeArgs, 'dist/server.js'], {
    cwd,
    // MALLOC_ARENA_MAX as the Docker image sets it.
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', GRPC_PORT: '0', LOG_LEVEL: 'warn', MODEL_REPOSITORY: values.repository, MALLOC_ARENA_MAX: '2', ...env },
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

export { stopServer };

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Drive /predict at `concurrency` for `seconds`, probing /health and /ready and sampling RSS meanwhile. */
export async function load(pid: number, concurrency: number, seconds: number, rssTrace?: number[], bodies?: () => Buffer, requests?: autocannon.Request[], overallRate?: number): Promise<LoadResult> {
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
export async function warmUp(seconds = 3): Promise<void> {
  await autocannon({
    url: `${base}/predict`,
    connections: 8,
    duration: seconds,
    requests: fixtureRequests,
  });
}

export function p99(sorted: number[]): number | null {
  return sorted.length ? Math.round(percentile(sorted, 99) * 100) / 100 : null;
}

export function ok(r: LoadResult): number {
  return r.statuses['200'] ?? 0;
}

export function table(rows: [string, LoadResult][]): string {
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


/** CPU seconds (user + system) the process has used, all its threads together (Linux). */
export { processCpuSeconds } from '../../src/inference/thread-cpu.js';

export async function sequential(path: string, requests: number, init: () => RequestInit): Promise<{ requests: number; p50Ms: number; p99Ms: number; meanMs: number }> {
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


/** A V2 binary request: the JSON header, then the tensors' bytes (Triton's binary tensor data extension). */
export function v2Binary(input: { datatype: string; shape: number[] }, blob: Buffer): autocannon.Request {
  const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'image', ...input, parameters: { binary_data_size: blob.length } }], parameters: { binary_data_output: true } }));
  return { method: 'POST', path: `/v2/models/${modelName}/infer`, headers: { 'inference-header-content-length': String(header.length), 'content-type': 'application/octet-stream' }, body: Buffer.concat([header, blob]) };
}
export const modelName = values.model.split('/').at(-2)!;

export function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export const fmt = (xs: number[]): string => xs.map((x) => x.toFixed(0)).join(', ');

/** V2 binary infer requests with each fixture photo as UINT8 pixels [1, 32, 32, 3], binary outputs. */
export async function v2PixelRequests(): Promise<autocannon.Request[]> {
  const rgb = await Promise.all(images.map((jpeg) => sharp(jpeg).removeAlpha().raw().toBuffer()));
  return rgb.map((pixels) => v2Binary({ datatype: 'UINT8', shape: [1, 32, 32, 3] }, pixels));
}
