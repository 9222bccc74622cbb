/** The real process: config validation, readiness during start-up and graceful shutdown under load. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ROOT, SHIPPED_REPOSITORY } from './helpers/app.js';
import * as img from './helpers/images.js';
import { freePort } from './helpers/net.js';
import { caller, healthClient, inferenceClient } from './helpers/grpc.js';

interface Proc {
  child: ChildProcessWithoutNullStreams;
  stdout: string[];
  stderr: string[];
  exit: Promise<number | null>;
}

function start(env: Record<string, string>): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, MODEL_REPOSITORY: SHIPPED_REPOSITORY, LOG_LEVEL: 'info', GRPC_PORT: '0', ...env },
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  child.stdout.on('data', (d: Buffer) => stdout.push(...d.toString().split('\n').filter(Boolean)));
  child.stderr.on('data', (d: Buffer) => stderr.push(d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout, stderr, exit };
}

async function status(url: string): Promise<number | 'refused'> {
  try {
    const res = await fetch(url);
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 'refused';
  }
}

function predictBody(): FormData {
  const form = new FormData();
  form.append('file', new Blob([img.photo('cat')], { type: 'image/jpeg' }), 'cat.jpg');
  return form;
}

function batchBody(n: number): FormData {
  const form = new FormData();
  for (let i = 0; i < n; i++) form.append('files', new Blob([img.photo(img.LABELS[i % 10]!)], { type: 'image/jpeg' }), `${i}.jpg`);
  return form;
}

describe('server process', () => {
  it('exits 1 naming the variable when the configuration is invalid', async () => {
    const proc = start({ PORT: 'eighty', MAX_BATCH_FILES: '0' });
    expect(await proc.exit).toBe(1);
    const err = proc.stderr.join('');
    expect(err).toMatch(/PORT/);
    expect(err).toMatch(/MAX_BATCH_FILES/);
  });

  it('stops with one line naming the variable, without a stack trace, for bad keys and a missing key file', async () => {
    for (const [env, line] of [
      [{ API_KEYS: 'short' }, /^ {2}API_KEYS: 1 API key\(s\) shorter than 16 characters$/m],
      [{ API_KEYS_FILE: '/nonexistent/keys' }, /^ {2}API_KEYS_FILE: no such file or directory, open '\/nonexistent\/keys'$/m],
      [{ MODEL_DIR: 'models/cifar10' }, /^ {2}MODEL_DIR: replaced by MODEL_REPOSITORY/m],
    ] as const) {
      const proc = start(env);
      expect(await proc.exit).toBe(1);
      const err = proc.stderr.join('');
      expect(err).toMatch(/^invalid configuration:\n/);
      expect(err).toMatch(line);
      expect(err).not.toMatch(/^\s+at /m);
      expect(err).not.toMatch(/RangeError|ENOENT/);
    }
  });

  it('takes a SIGINT delivered twice at once (terminal and npm) as one Ctrl-C: drains and exits 0', async () => {
    const port = await freePort();
    const proc = start({ PORT: String(port), HOST: '127.0.0.1', SHUTDOWN_DRAIN_MS: '100' });
    try {
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline && (await status(`http://127.0.0.1:${port}/health`)) !== 200) await sleep(50);
      proc.child.kill('SIGINT');
      proc.child.kill('SIGINT');
      expect(await proc.exit).toBe(0);
      const levels = proc.stdout.map((l) => (JSON.parse(l) as { level: number }).level);
      expect(levels.filter((l) => l >= 50)).toEqual([]);
    } finally {
      proc.child.kill('SIGKILL');
    }
  });

  it('is live before ready, ready once warm, and shuts down gracefully under load', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const proc = start({ PORT: String(port), HOST: '127.0.0.1', WARMUP_RUNS: '100', MAX_QUEUE: '1024', SHUTDOWN_DRAIN_MS: '3000', SHUTDOWN_TIMEOUT_MS: '20000', MAX_EVENT_LOOP_DELAY_MS: '0' });
    try {
      // Start-up: /health answers while /ready still says 503.
      const seen: string[] = [];
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        const [health, ready] = await Promise.all([status(`${base}/health`), status(`${base}/ready`)]);
        seen.push(`${health}/${ready}`);
        if (ready === 200) break;
        await sleep(20);
      }
      expect(seen).toContain('200/503');
      expect(seen.at(-1)).toBe('200/200');

      // A prediction is logged as one JSON line, with what an operator needs and without image bytes.
      const one = await fetch(`${base}/predict`, { method: 'POST', body: predictBody(), headers: { 'x-request-id': 'log-check' } });
      expect(one.status).toBe(200);
      await sleep(50);
      const lines = proc.stdout.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.reqId === 'log-check');
      expect(lines).toEqual([
        expect.objectContaining({ level: 30, msg: 'request', method: 'POST', route: '/predict', status: 200, ms: expect.any(Number), prediction: expect.objectContaining({ label: expect.any(String), confidence: expect.any(Number), latency_ms: expect.any(Number), model: 'cifar10', version: '1' }) }),
      ]);
      expect(JSON.stringify(lines).length).toBeLessThan(2000);
      // A refused request: one line too, naming the problem.
      const refused = await fetch(`${base}/predict`, { method: 'POST', body: 'not json', headers: { 'x-request-id': 'log-refused', 'content-type': 'text/plain' } });
      expect(refused.status).toBe(415);
      await sleep(50);
      expect(proc.stdout.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.reqId === 'log-refused')).toEqual([
        expect.objectContaining({ msg: 'request', status: 415, problem: 'unsupported-media-type' }),
      ]);

      // Shutdown under load: in-flight requests finish, readiness drops at once, the process exits 0.
      // On a slow or busy machine: the drain (SHUTDOWN_DRAIN_MS) is long enough for all six
      // uploads to reach the server (one arriving after it would rightly be refused), and load
      // shedding on event-loop delay is off (it would answer 503 under-pressure; the shedding
      // tests cover it).
      const inflight = Array.from({ length: 6 }, () => fetch(`${base}/predict/batch`, { method: 'POST', body: batchBody(32) }).then(async (r) => (r.status === 200 ? 200 : `${r.status} ${await r.text()}`)));
      await sleep(30);
      proc.child.kill('SIGTERM');
      // Readiness drops during the drain, while the process still answers (polled: a loaded
      // machine may take a while to deliver the signal).
      let ready: number | 'refused' = 200;
      for (const until = Date.now() + 2500; ready === 200 && Date.now() < until; await sleep(20)) ready = await status(`${base}/ready`);
      expect(ready).toBe(503);
      expect(await status(`${base}/health`)).toBe(200);
      expect(await Promise.all(inflight)).toEqual([200, 200, 200, 200, 200, 200]);
      expect(await proc.exit).toBe(0);
      expect(await status(`${base}/health`)).toBe('refused');
    } finally {
      proc.child.kill('SIGKILL');
    }
  });

  it('drains gRPC like HTTP: at SIGTERM the health service says NOT_SERVING, calls are answered until the drain ends, then it exits 0', async () => {
    const [port, grpcPort] = [await freePort(), await freePort()];
    const proc = start({ PORT: String(port), GRPC_PORT: String(grpcPort), HOST: '127.0.0.1', SHUTDOWN_DRAIN_MS: '10000', SHUTDOWN_TIMEOUT_MS: '30000' });
    const client = inferenceClient(grpcPort);
    const health = healthClient(grpcPort);
    try {
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline && (await status(`http://127.0.0.1:${port}/ready`)) !== 200) await sleep(50);
      const check = (): Promise<unknown> => caller(health)<{ status: string }>('Check', { service: '' }).then((r) => r.status, (e: { code: number }) => e.code);
      expect(await check()).toBe('SERVING');
      proc.child.kill('SIGTERM');
      while ((await check()) !== 'NOT_SERVING') await sleep(20);
      const iris = { model_name: 'iris', inputs: [{ name: 'features', datatype: 'FP64', shape: [1, 4], contents: { fp64_contents: [5.1, 3.5, 1.4, 0.2] } }] };
      expect(await caller(client)('ModelInfer', iris)).toMatchObject({ model_name: 'iris' });
      expect(await proc.exit).toBe(0);
    } finally {
      client.close();
      health.close();
      proc.child.kill('SIGKILL');
    }
  }, 120_000);
});
