/**
 * Inference hosts as child processes (INFERENCE_HOSTS=processes), through real HTTP: the same
 * answers as threads, and a host killed with SIGKILL under a steady concurrent load ends that
 * host only: every request is answered 200 (its batch retried on the other host) or 503 with
 * Retry-After, none hangs, none is a 500, and the host comes back with every version it held.
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

describe('inference hosts as processes', () => {
  let app: FastifyInstance;
  let base: string;
  beforeAll(async () => {
    app = await buildApp({ INFERENCE_HOSTS: 'processes', INFERENCE_WORKERS: '2', CACHE_MAX_ENTRIES: '0' });
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    const pids = app.models.pool!.hostPids();
    await app.close();
    // Closing the server ends its host processes.
    expect(pids.filter(alive)).toEqual([]);
  });

  const infer = async (): Promise<{ status: number; retryAfter: string | null; labels?: string[] }> => {
    const res = await fetch(`${base}/v2/models/iris/infer`, { method: 'POST', body: JSON.stringify(ROWS), headers: { 'content-type': 'application/json' } });
    const body = (await res.json()) as { outputs?: { name: string; data: string[] }[] };
    return { status: res.status, retryAfter: res.headers.get('retry-after'), labels: body.outputs?.find((o) => o.name === 'label')?.data };
  };

  it('runs every model in two child processes, answering as threads do', async () => {
    const pids = app.models.pool!.hostPids();
    expect(pids).toHaveLength(2);
    expect(pids.every((pid) => pid !== process.pid && alive(pid))).toBe(true);
    expect(await infer()).toMatchObject({ status: 200, labels: ['setosa', 'virginica'] });
  });

  it('survives kill -9 of a host under load: 200 or 503 with Retry-After, the host back, ready and counted', async () => {
    const pool = app.models.pool!;
    const before = pool.hostPids();
    const answers: Awaited<ReturnType<typeof infer>>[] = [];
    let stop = false;
    const loops = Array.from({ length: 8 }, async () => {
      while (!stop) answers.push(await infer());
    });
    while (answers.length < 40) await sleep(10);
    process.kill(before[0]!, 'SIGKILL');
    // Until a new host serves beside the other, and a while after it.
    while (pool.hostPids().length < 2 || pool.hostPids().includes(before[0]!)) await sleep(20);
    const restartedAt = answers.length;
    while (answers.length < restartedAt + 40) await sleep(10);
    stop = true;
    await Promise.all(loops);
    const byStatus = answers.reduce<Record<number, number>>((n, a) => ({ ...n, [a.status]: (n[a.status] ?? 0) + 1 }), {});
    console.log(`kill -9 of a host process under load: ${JSON.stringify(byStatus)} (status: answers)`);

    expect(answers.filter((a) => a.status !== 200 && !(a.status === 503 && a.retryAfter !== null))).toEqual([]);
    expect(answers.filter((a) => a.status === 200).every((a) => a.labels?.join() === 'setosa,virginica')).toBe(true);
    expect(answers.slice(restartedAt).some((a) => a.status === 200)).toBe(true);
    expect(alive(before[0]!)).toBe(false);
    expect(pool.hostPids()).toHaveLength(2);
    expect((await fetch(`${base}/ready`)).status).toBe(200);
    const restarts = (await app.metrics.registry.getSingleMetric('mlapi_inference_instance_restarts_total')!.get()).values;
    expect(restarts).toEqual([expect.objectContaining({ labels: { reason: 'SIGKILL' }, value: 1 })]);
  });
});
