/**
 * Inference hosts as child processes (INFERENCE_HOSTS=processes), through real HTTP: the same
 * answers as threads, and a host killed with SIGKILL, or stopped with SIGSTOP (its batch then
 * runs past INFERENCE_BATCH_TIMEOUT_MS), under a steady concurrent load ends that host only:
 * every request is answered 200 (its batch retried on the other host) or 503 with
 * Retry-After, none hangs, none is a 500, and a new host comes back with every version it held.
 */
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../helpers/app.js';

const ROWS = { inputs: [{ name: 'features', datatype: 'FP64', shape: [2, 4], data: [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3] }] };
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

type Answer = { status: number; retryAfter: string | null; labels?: string[] };

async function serve(env: Record<string, string>): Promise<{ app: FastifyInstance; infer: () => Promise<Answer> }> {
  const app = await buildApp({ INFERENCE_HOSTS: 'processes', INFERENCE_WORKERS: '2', CACHE_MAX_ENTRIES: '0', ...env });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const infer = async (): Promise<Answer> => {
    const res = await fetch(`${base}/v2/models/iris/infer`, { method: 'POST', body: JSON.stringify(ROWS), headers: { 'content-type': 'application/json' } });
    const body = (await res.json()) as { outputs?: { name: string; data: string[] }[] };
    return { status: res.status, retryAfter: res.headers.get('retry-after'), labels: body.outputs?.find((o) => o.name === 'label')?.data };
  };
  return { app, infer };
}

async function close(app: FastifyInstance): Promise<void> {
  const pids = app.models.pool!.hostPids();
  await app.close();
  // Closing the server ends its host processes.
  expect(pids.filter(alive)).toEqual([]);
}

/**
 * Eight clients call without pause; `fault` strikes one host after 40 answers; the load goes on
 * until a new host serves beside the other, and for 40 answers more. Every answer is checked.
 */
async function underLoad(app: FastifyInstance, infer: () => Promise<Answer>, fault: (pid: number) => void, what: string): Promise<void> {
  const pool = app.models.pool!;
  const before = pool.hostPids();
  const answers: Answer[] = [];
  let stop = false;
  const loops = Array.from({ length: 8 }, async () => {
    while (!stop) answers.push(await infer());
  });
  while (answers.length < 40) await sleep(10);
  fault(before[0]!);
  while (pool.hostPids().length < 2 || pool.hostPids().includes(before[0]!)) await sleep(20);
  const restartedAt = answers.length;
  while (answers.length < restartedAt + 40) await sleep(10);
  stop = true;
  await Promise.all(loops);
  const byStatus = answers.reduce<Record<number, number>>((n, a) => ({ ...n, [a.status]: (n[a.status] ?? 0) + 1 }), {});
  console.log(`${what} of a host process under load: ${JSON.stringify(byStatus)} (status: answers)`);

  expect(answers.filter((a) => a.status !== 200 && !(a.status === 503 && a.retryAfter !== null))).toEqual([]);
  expect(answers.filter((a) => a.status === 200).every((a) => a.labels?.join() === 'setosa,virginica')).toBe(true);
  expect(answers.slice(restartedAt).some((a) => a.status === 200)).toBe(true);
  expect(alive(before[0]!)).toBe(false);
  expect(pool.hostPids()).toHaveLength(2);
}

const restarts = async (app: FastifyInstance): Promise<unknown> => (await app.metrics.registry.getSingleMetric('mlapi_inference_instance_restarts_total')!.get()).values;

describe('inference hosts as processes', () => {
  let app: FastifyInstance;
  let infer: () => Promise<Answer>;
  beforeAll(async () => ({ app, infer } = await serve({})));
  afterAll(() => close(app));

  it('runs every model in two child processes, answering as threads do', async () => {
    const pids = app.models.pool!.hostPids();
    expect(pids).toHaveLength(2);
    expect(pids.every((pid) => pid !== process.pid && alive(pid))).toBe(true);
    expect(await infer()).toMatchObject({ status: 200, labels: ['setosa', 'virginica'] });
  });

  it('survives kill -9 of a host under load: 200 or 503 with Retry-After, the host back, ready and counted', async () => {
    await underLoad(app, infer, (pid) => process.kill(pid, 'SIGKILL'), 'kill -9');
    expect((await app.inject('/ready')).statusCode).toBe(200);
    expect(await restarts(app)).toEqual([expect.objectContaining({ labels: { reason: 'SIGKILL' }, value: 1 })]);
  });
});

describe('a stopped host process', () => {
  let app: FastifyInstance;
  let infer: () => Promise<Answer>;
  // Long enough for any batch of iris on a busy machine; short enough for the test.
  beforeAll(async () => ({ app, infer } = await serve({ INFERENCE_BATCH_TIMEOUT_MS: '3000' })));
  afterAll(() => close(app));

  it('SIGSTOP: its batch runs past INFERENCE_BATCH_TIMEOUT_MS, it is killed and replaced, the batch retried', async () => {
    await underLoad(app, infer, (pid) => process.kill(pid, 'SIGSTOP'), 'SIGSTOP');
    expect((await app.inject('/ready')).statusCode).toBe(200);
    expect(await restarts(app)).toEqual([expect.objectContaining({ labels: { reason: 'timeout' }, value: 1 })]);
  });
});
