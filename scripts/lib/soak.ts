/**
 * Soak run: mixed valid and invalid /predict traffic at high concurrency against the real
 * server process, RSS sampled every second, then SIGTERM while the load continues. Used by
 * `npm run soak` (minutes) and by a short test (seconds). In chaos mode the server runs its
 * inference hosts as processes and one is killed (SIGKILL) every `chaosEveryS` seconds; a
 * client retries a valid request answered 503 with Retry-After, as a well-behaved client does,
 * and the request counts as lost unless a retry gets its 200.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, fetch, FormData } from 'undici';
import { processTree, rssMb, waitUntilReady } from './server-process.js';

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
  /** Chaos: INFERENCE_HOSTS=processes, and a host process killed with SIGKILL every so many seconds. */
  chaosEveryS?: number;
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
  /** Chaos mode: host processes killed, valid requests answered 503 + Retry-After and retried, and those whose retries never got a 200. */
  chaos?: { hostKills: number; retried: number; lostAfterRetries: number; restarts: Record<string, number> };
}

/** Retries of one valid request answered 503 with Retry-After, in chaos mode. */
const MAX_RETRIES = 3;

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
    env: { ...process.env, PORT: String(opts.port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', GRPC_PORT: '0', CACHE_MAX_ENTRIES: '0', MALLOC_ARENA_MAX: '2', ...(opts.chaosEveryS && { INFERENCE_HOSTS: 'processes' }), ...opts.env },
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
  const chaos = { hostKills: 0, retried: 0, lostAfterRetries: 0, restarts: {} as Record<string, number> };
  const rss: number[] = [];
  const started = performance.now();
  // The whole tree: process hosts hold the models.
  const treeRss = (): number => processTree(child.pid!).reduce((mb, pid) => mb + rssMb(pid), 0);
  const sampler = setInterval(() => {
    if (!serverGone) rss.push(treeRss());
    const elapsed = Math.round((performance.now() - started) / 1000);
    if (elapsed % 10 === 0 && elapsed > 0) {
      opts.onProgress?.(`${elapsed} s: ${report.requests} requests, ${JSON.stringify(statuses)}, RSS ${rss.at(-1)} MB${opts.chaosEveryS ? `, ${chaos.hostKills} hosts killed, ${chaos.retried} retried, ${chaos.lostAfterRetries} lost` : ''}`);
    }
  }, 1000);

  let seq = 0;
  const client = async (): Promise<void> => {
    while (!serverGone) {
      const i = seq++;
      const p = (i * 7919) % 100 < opts.invalidRatio * 100 ? invalid[i % invalid.length]! : valid[i % valid.length]!;
      const sentAt = performance.now();
      try {
        const send = async (): Promise<Awaited<ReturnType<typeof fetch>>> => {
          const res = await fetch(`${base}/predict`, { method: 'POST', body: p.body, headers: p.type ? { 'content-type': p.type } : {}, dispatcher });
          await res.arrayBuffer();
          return res;
        };
        let res = await send();
        // Chaos mode: a valid request refused for a while (its host died) is sent again when the server says.
        for (let retry = 0; opts.chaosEveryS && p.valid && sentAt < sigtermAt && res.status === 503 && res.headers.get('retry-after') && retry < MAX_RETRIES; retry++) {
          if (retry === 0) chaos.retried++;
          await new Promise((r) => setTimeout(r, Number(res.headers.get('retry-after')) * 1000));
          if (performance.now() >= sigtermAt) break;
          res = await send();
        }
        if (opts.chaosEveryS && p.valid && sentAt < sigtermAt && res.status !== 200) chaos.lostAfterRetries++;
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
  const killer =
    opts.chaosEveryS &&
    setInterval(() => {
      const hosts = processTree(child.pid!).slice(1);
      const victim = hosts[chaos.hostKills % Math.max(1, hosts.length)];
      if (victim === undefined) return;
      try {
        process.kill(victim, 'SIGKILL');
        chaos.hostKills++;
      } catch {
        // gone meanwhile
      }
    }, opts.chaosEveryS * 1000);
  await new Promise((r) => setTimeout(r, opts.seconds * 1000));
  if (killer) clearInterval(killer);
  if (opts.chaosEveryS) {
    // Restarts by reason, as the server counts them.
    const metrics = await fetch(`${base}/metrics`, { dispatcher }).then((r) => r.text(), () => '');
    for (const m of metrics.matchAll(/^mlapi_inference_instance_restarts_total\{reason="([^"]+)"\} (\d+)/gm)) chaos.restarts[m[1]!] = Number(m[2]);
  }
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
    ...(opts.chaosEveryS && { chaos }),
  };
}
