/**
 * The smoke test of a built image, run as users run it: the container's own USER,
 * ENTRYPOINT, CMD and ENV on the host's network. Each check prints one line; the result
 * lists the failures (none: it passed).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { credentials, loadPackageDefinition, type Client, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { GRPC_LOADER_OPTIONS } from '../../../src/protocols/open-inference/grpc-tensors.js';
import { freePort } from '../net.js';
import { RedisServer } from '../redis-server.js';
import { descendants, type Container, type Engine } from './engine.js';

const ROOT = process.cwd();
const fixture = (name: string): Buffer => readFileSync(join(ROOT, 'tests', 'fixtures', name));

export interface SmokeReport {
  failures: string[];
  /** Seconds from the entrypoint's start until /ready answered 200, per container. */
  readySeconds: number[];
  /** The image's parts inside the container (bytes, du --apparent-size), by path. */
  parts: Map<string, number>;
}

/** Seconds since boot, and a process's start in the same clock (Linux /proc). */
const uptime = (): number => Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
const TICKS = 100; // USER_HZ on Linux
const startedAt = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]) / TICKS;
};

const uidOf = (pid: number): string => /^Uid:\s+(\d+)\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.slice(1, 3).join('/') ?? '?';

interface Running {
  container: Container;
  http: string;
  grpcPort: number;
  readySeconds: number;
}

async function start(engine: Engine, image: string, env: Record<string, string>): Promise<Running> {
  const [port, grpcPort] = [await freePort(), await freePort()];
  const container = engine.run(image, { ...env, PORT: String(port), GRPC_PORT: String(grpcPort), HOST: '127.0.0.1' });
  const pid = await container.entrypointPid();
  const began = startedAt(pid);
  const http = `http://127.0.0.1:${port}`;
  const end = Date.now() + 120_000;
  for (;;) {
    const status = await fetch(`${http}/ready`).then((r) => r.status, () => 0);
    if (status === 200) break;
    const code = await Promise.race([container.exited, new Promise((r) => setTimeout(r, 25, 'running'))]);
    if (code !== 'running') throw new Error(`the container exited (${String(code)}) before it was ready:\n${container.logs()}`);
    if (Date.now() > end) throw new Error(`the container was not ready within 120 s:\n${container.logs()}`);
  }
  return { container, http, grpcPort, readySeconds: uptime() - began };
}

type Json = Record<string, unknown>;
async function post(url: string, body: string | Buffer | FormData, type?: string): Promise<{ status: number; json: Json }> {
  const r = await fetch(url, { method: 'POST', body, ...(type && { headers: { 'content-type': type } }) });
  return { status: r.status, json: (await r.json().catch(() => ({}))) as Json };
}
const form = (field: string, ...files: string[]): FormData => {
  const f = new FormData();
  for (const file of files) f.append(field, new Blob([fixture(`images/${file}`)], { type: 'image/jpeg' }), file);
  return f;
};

function grpcServerReady(port: number): Promise<boolean> {
  const def = loadSync(join(ROOT, 'specs', 'open-inference-protocol', 'open_inference_grpc.proto'), GRPC_LOADER_OPTIONS);
  const { inference } = loadPackageDefinition(def) as unknown as { inference: { GRPCInferenceService: new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => Client & { ServerReady(req: object, cb: (err: ServiceError | null, res: { ready: boolean }) => void): void } } };
  const client = new inference.GRPCInferenceService(`127.0.0.1:${port}`, credentials.createInsecure());
  return new Promise((resolve, reject) =>
    client.ServerReady({}, (err, res) => {
      client.close();
      if (err) reject(err);
      else resolve(res.ready);
    }),
  );
}

/** Smoke-test `image` on `engine`; prints a line a check. */
export async function smoke(engine: Engine, image: string): Promise<SmokeReport> {
  const failures: string[] = [];
  const check = (ok: boolean, what: string, detail = ''): void => {
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}${detail ? `: ${detail}` : ''}`);
    if (!ok) failures.push(`${what}${detail ? `: ${detail}` : ''}`);
  };
  const readySeconds: number[] = [];
  const parts = new Map<string, number>();
  const cfg = engine.config(image);

  // 1. The image as it is.
  const a = await start(engine, image, {});
  readySeconds.push(a.readySeconds);
  try {
    check(true, `ready ${a.readySeconds.toFixed(2)} s after the entrypoint (${cfg.entrypoint.join(' ')} ${cfg.cmd.join(' ')}) started`);
    const health = await fetch(`${a.http}/health`);
    check(health.status === 200 && ((await health.json()) as Json).status === 'ok', 'GET /health', String(health.status));
    const ready = await fetch(`${a.http}/ready`);
    check(ready.status === 200, 'GET /ready', JSON.stringify(await ready.json()));
    const truck = await post(`${a.http}/predict`, form('file', 'truck.jpg'));
    check(truck.status === 200 && truck.json.class_label === 'truck', 'cifar10: the truck photo, multipart to /predict', `${truck.status} ${String(truck.json.class_label)}`);
    const iris = await post(`${a.http}/v1/models/iris/predict`, JSON.stringify({ features: { sepal_length: 6.7, sepal_width: 3.0, petal_length: 5.2, petal_width: 2.3 } }), 'application/json');
    check(iris.status === 200 && iris.json.class_label === 'virginica', 'iris: a row by feature name', `${iris.status} ${String(iris.json.class_label)}`);
    const wine = await post(`${a.http}/v1/models/wine-quality/predict`, JSON.stringify({ features: [7.4, 0.7, 0, 1.9, 0.076, 11, 34, 0.9978, 3.51, 0.56, 9.4] }), 'application/json');
    check(wine.status === 200 && typeof wine.json.prediction === 'number', 'wine-quality: a row in declared order', `${wine.status} ${String(wine.json.prediction)}`);
    const spam = await post(`${a.http}/v1/models/spam/predict`, fixture('text/ham.eml'), 'message/rfc822');
    check(spam.status === 200 && spam.json.class_label === 'ham', 'spam: an e-mail as message/rfc822', `${spam.status} ${String(spam.json.class_label)}`);
    check(await grpcServerReady(a.grpcPort).catch(() => false), 'gRPC ServerReady');
    if (cfg.healthcheck && cfg.healthcheck[0] !== 'NONE') {
      const argv = cfg.healthcheck[0] === 'CMD-SHELL' ? ['/bin/sh', '-c', cfg.healthcheck[1]!] : cfg.healthcheck.slice(1);
      const r = a.container.exec(argv);
      check(r.status === 0, 'the HEALTHCHECK command, run inside the container', `exit ${r.status}${r.output ? ` ${r.output.trim()}` : ''}`);
    } else check(false, 'the image has a HEALTHCHECK');
    const pid = await a.container.entrypointPid();
    const tree = [pid, ...descendants(pid)];
    const uids = tree.map(uidOf);
    check(cfg.user === 'node' && uids.every((u) => u === '1000/1000'), `every process of the container runs as uid 1000 (USER ${cfg.user})`, `${tree.length} processes, uids ${[...new Set(uids)].join(', ')}`);
    const du = a.container.exec(['sh', '-c', 'cd /app && du -s -B1 --apparent-size dist models public specs proto package.json node_modules/[!@]* node_modules/@*/*']);
    for (const line of du.output.trim().split('\n')) {
      const [kb, path] = line.split('\t');
      if (path) parts.set(path, Number(kb));
    }

    // SIGTERM with requests in flight: each is answered, then the entrypoint exits 0. The server
    // keeps taking requests for SHUTDOWN_DRAIN_MS (1 s) after the signal, then refuses new ones
    // with 503 shutting-down (a balancer retries them); a request it began is always answered.
    const batch = ['airplane.jpg', 'automobile.jpg', 'bird.jpg', 'cat.jpg', 'deer.jpg', 'dog.jpg', 'frog.jpg', 'horse.jpg', 'ship.jpg', 'truck.jpg'];
    let signalled = Infinity;
    const inFlight = Array.from({ length: 16 }, () =>
      post(`${a.http}/predict/batch`, form('files', ...batch)).then(
        (r) => ({ status: r.status, at: performance.now() - signalled, refused: r.status === 503 && JSON.stringify(r.json).includes('shutting down') }),
        () => ({ status: 0, at: performance.now() - signalled, refused: false }),
      ),
    );
    await new Promise((r) => setTimeout(r, 30));
    signalled = performance.now();
    await a.container.signal('SIGTERM');
    const answers = await Promise.all(inFlight);
    const code = await Promise.race([a.container.exited, new Promise((r) => setTimeout(r, 30_000, 'still running'))]);
    const stopped = (performance.now() - signalled) / 1000;
    const answered = answers.filter((x) => x.status === 200);
    const lateRefusals = answers.filter((x) => x.refused && x.at >= 1000);
    check(answered.length + lateRefusals.length === answers.length && answered.some((x) => x.at > 0), 'SIGTERM to the entrypoint: the requests in flight are answered', `${answered.length} of ${answers.length} answered 200 (${answered.filter((x) => x.at > 0).length} after the signal), ${lateRefusals.length} sent after the 1 s drain refused 503 shutting-down, ${answers.length - answered.length - lateRefusals.length} otherwise`);
    check(code === 0, 'SIGTERM: the entrypoint ends with status 0', `status ${String(code)} after ${stopped.toFixed(2)} s`);
    const changed = a.container.changes();
    const elsewhere = changed.filter((p) => p !== '/tmp' && !p.startsWith('/tmp/'));
    check(elsewhere.length === 0, 'the container wrote nothing outside /tmp (MODEL_CACHE_DIR is under it)', elsewhere.length ? elsewhere.slice(0, 10).join(', ') : `${changed.length} paths changed, all under /tmp`);
  } finally {
    a.container.remove();
  }

  // 2. Two containers sharing a real redis-server: the second answers a repeated input from the cache.
  const redis = await RedisServer.start();
  const shared = { REDIS_URL: `${redis.url}/0`, INFERENCE_RUNTIME: 'tfjs' };
  const b = await start(engine, image, shared).catch((err: Error) => err);
  const c = b instanceof Error ? b : await start(engine, image, shared).catch((err: Error) => err);
  try {
    if (b instanceof Error || c instanceof Error) throw b instanceof Error ? b : c;
    readySeconds.push(b.readySeconds, c.readySeconds);
    const first = await post(`${b.http}/predict`, form('file', 'truck.jpg'));
    check(first.status === 200 && first.json.class_label === 'truck' && first.json.cached === false, 'with REDIS_URL and TF.js (INFERENCE_RUNTIME=tfjs, WebAssembly): the first container answers the truck', `${first.status} ${String(first.json.class_label)} cached=${String(first.json.cached)}`);
    let again = { status: 0, json: {} as Json };
    for (let i = 0; i < 20; i++) {
      again = await post(`${c.http}/predict`, form('file', 'truck.jpg'));
      if (again.json.cached === true) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    check(again.status === 200 && again.json.cached === true && again.json.class_label === 'truck', 'a second container answers the same photo from the shared Redis cache', `${again.status} cached=${String(again.json.cached)}`);
    for (const x of [b, c]) await x.container.signal('SIGTERM');
    const codes = await Promise.all([b.container.exited, c.container.exited]);
    check(codes.every((x) => x === 0), 'both end with status 0 on SIGTERM', codes.join(', '));
  } catch (err) {
    check(false, 'two containers sharing Redis', (err as Error).message);
  } finally {
    if (!(b instanceof Error)) b.container.remove();
    if (!(c instanceof Error)) c.container.remove();
    await redis.kill();
  }
  return { failures, readySeconds, parts };
}
