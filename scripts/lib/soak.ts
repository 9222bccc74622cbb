/**
 * Soak run: mixed valid and invalid /predict traffic at high concurrency against the real
 * server process, RSS sampled every second, then SIGTERM while the load continues. Used by
 * `npm run soak` (minutes) and by a short test (seconds).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, fetch, FormData } from 'undici';
import { rssMb, waitUntilReady } from './server-process.js';

export interface SoakOptions {
  /** Seconds of load before SIGTERM. */
  seconds: number;
  concurrency: number;
  /** Share of requests that are invalid on purpose (text, truncated JPEG, SVG, empty, wrong field). */
  invalidRatio: number;
  port: number;
  /** How the server is started, e.g. ['dist/server.js'] or ['--import', 'tsx', 'src/server.ts']. */
  serverArgs: string[];
  cwd: string;
  env?: Record<string, string>;
  /** Called about every 10 s. */
  onProgress?: (line: string) => void;
}

export interface SoakReport {
  seconds: number;
  concurrency: number;
  requests: number;
  statuses: Record<string, number>;
  /** 5xx answered before SIGTERM (after it, 503 refusals are expected). */
  serverErrorsBeforeSigterm: number;
  /** 5xx other than the documented 503 refusals, at any time. */
  unexpectedServerErrors: number;
  /** Valid images sent before SIGTERM that did not get a 200. */
  failedValidBeforeSigterm: number;
  /** Invalid inputs that did not get a 4xx. */
  invalidNot4xx: number;
  /** Requests sent before SIGTERM that got no HTTP answer at all (connection error). */
  lostBeforeSigterm: number;
  connectionErrorsAfterSigterm: number;
  rssMb: number[];
  /** Mean RSS of the last 10% of samples against the first 10% after a 10% warm-up, in %. */
  rssDriftPct: number;
  exitCode: number | null;
  shutdownMs: number;
}

interface Payload {
  valid: boolean;
  body: FormData | Buffer;
  type?: string;
}

function payloads(root: string): { valid: Payload[]; invalid: Payload[] } {
  const labels = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
  const photos = labels.map((l) => readFileSync(join(root, 'tests', 'fixtures', 'images', `${l}.jpg`)));
  const form = (field: string, bytes: Buffer, name: string): FormData => {
    const f = new FormData();
    f.append(field, new Blob([new Uint8Array(bytes)], { type: 'image/jpeg' }), name);
    return f;
  };
  return {
    valid: photos.map((p, i) => ({ valid: true, body: form('file', p, `${labels[i]}.jpg`) })),
    invalid: [
      { valid: false, body: form('file', Buffer.from('plain text, not a picture\n'), 'notes.jpg') },
      { valid: false, body: form('file', photos[3]!.subarray(0, photos[3]!.length >> 1), 'truncated.jpg') },
      { valid: false, body: form('file', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), 'x.svg') },
      { valid: false, body: form('file', Buffer.alloc(0), 'empty.jpg') },
      { valid: false, body: form('image', photos[0]!, 'wrong-field.jpg') },
      { valid: false, body: Buffer.from('{"image": "not base64!"}'), type: 'application/json' },
    ],
  };
}

export async function runSoak(opts: SoakOptions): Promise<SoakReport> {
  const base = `http://127.0.0.1:${opts.port}`;
  const child = spawn(process.execPath, opts.serverArgs, {
    cwd: opts.cwd,
    env: { ...process.env, PORT: String(opts.port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', GRPC_PORT: '0', CACHE_MAX_ENTRIES: '0', MALLOC_ARENA_MAX: '2', ...opts.env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await waitUntilReady(base);

  const { valid, invalid } = payloads(opts.cwd);
  const dispatcher = new Agent({ connections: opts.concurrency, keepAliveTimeout: 10_000 });
  const statuses: Record<string, number> = {};
  const report = {
    requests: 0,
    serverErrorsBeforeSigterm: 0,
    unexpectedServerErrors: 0,
    failedValidBeforeSigterm: 0,
    invalidNot4xx: 0,
    lostBeforeSigterm: 0,
    connectionErrorsAfterSigterm: 0,
  };
  let sigtermAt = Infinity;
  let serverGone = false;
  void exited.then(() => (serverGone = true));
  const rss: number[] = [];
  const started = performance.now();
  const sampler = setInterval(() => {
    if (!serverGone) rss.push(rssMb(child.pid!));
    const elapsed = Math.round((performance.now() - started) / 1000);
    if (elapsed % 10 === 0 && elapsed > 0) {
      opts.onProgress?.(`${elapsed} s: ${report.requests} requests, ${JSON.stringify(statuses)}, RSS ${rss.at(-1)} MB`);
    }
  }, 1000);

  let seq = 0;
  const client = async (): Promise<void> => {
    while (!serverGone) {
      const i = seq++;
      const p = (i * 7919) % 100 < opts.invalidRatio * 100 ? invalid[i % invalid.length]! : valid[i % valid.length]!;
      const sentAt = performance.now();
      try {
        const res = await fetch(`${base}/predict`, {
          method: 'POST',
          body: p.body,
          headers: p.type ? { 'content-type': p.type } : {},
          dispatcher,
        });
        await res.arrayBuffer();
        report.requests++;
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        const before = sentAt < sigtermAt;
        if (res.status >= 500) {
          if (before) report.serverErrorsBeforeSigterm++;
          if (res.status !== 503) report.unexpectedServerErrors++;
        }
        if (p.valid && before && res.status !== 200) report.failedValidBeforeSigterm++;
        if (!p.valid && (res.status < 400 || res.status >= 500) && before) report.invalidNot4xx++;
      } catch {
        if (sentAt < sigtermAt) report.lostBeforeSigterm++;
        else report.connectionErrorsAfterSigterm++;
        if (sentAt >= sigtermAt) await new Promise((r) => setTimeout(r, 20));
      }
    }
  };
  const clients = Array.from({ length: opts.concurrency }, client);
  await new Promise((r) => setTimeout(r, opts.seconds * 1000));
  sigtermAt = performance.now();
  child.kill('SIGTERM');
  const exitCode = await exited;
  const shutdownMs = Math.round(performance.now() - sigtermAt);
  await Promise.all(clients);
  clearInterval(sampler);
  await dispatcher.close();

  const n = rss.length;
  const warm = Math.floor(n * 0.1);
  const span = Math.max(1, Math.floor(n * 0.1));
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const head = mean(rss.slice(warm, warm + span));
  const tail = mean(rss.slice(n - span));
  return {
    seconds: opts.seconds,
    concurrency: opts.concurrency,
    ...report,
    statuses,
    rssMb: rss,
    rssDriftPct: head > 0 ? Math.round(((tail - head) / head) * 1000) / 10 : 0,
    exitCode,
    shutdownMs,
  };
}
