/**
 * Fault isolation with process hosts, through real HTTP, with models that break their runtime
 * the way a native fault does (INFERENCE_FAULT_INJECTION and a version's fault.json): one that
 * aborts the process while it loads, one that aborts when a batch holds a poison value, and
 * one that then allocates memory without bound. Each is FAILED with the reason and quarantined;
 * iris, served beside them under a steady load, answers throughout; /ready and the metrics tell
 * the truth at every step.
 */
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FaultSpec } from '../../src/runtimes/fault.js';
import { buildApp, SHIPPED_REPOSITORY } from '../helpers/app.js';

const ADMIN_KEY = 'admin-key-for-quarantine-tests';
const rows = (first: number): unknown => ({ inputs: [{ name: 'features', datatype: 'FP64', shape: [2, 4], data: [first, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3] }] });
const POISON = 1e6;

type Answer = { status: number; retryAfter: string | null; body: { error?: string; outputs?: { name: string; data: string[] }[] } };

const metric = async (app: FastifyInstance, name: string): Promise<{ labels: Record<string, string | number>; value: number }[]> =>
  (await app.metrics.registry.getSingleMetric(name)!.get()).values as { labels: Record<string, string | number>; value: number }[];

describe('models that crash their runtime, beside one that does not', () => {
  let dir: string;
  let app: FastifyInstance;
  let base: string;
  const infer = async (model: string, first = 5.1): Promise<Answer> => {
    const res = await fetch(`${base}/v2/models/${model}/infer`, { method: 'POST', body: JSON.stringify(rows(first)), headers: { 'content-type': 'application/json' } });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as Answer['body'] };
  };
  const state = async (model: string): Promise<{ state: string; reason?: string }> => {
    const res = await fetch(`${base}/v1/models/${model}/versions/1`);
    const { state, reason } = (await res.json()) as { state: string; reason?: string };
    return { state, ...(reason !== undefined && { reason }) };
  };
  const faulty = async (name: string, fault: FaultSpec): Promise<void> => {
    await cp(join(SHIPPED_REPOSITORY, 'iris'), join(dir, name), { recursive: true });
    await writeFile(join(dir, name, '1', 'fault.json'), JSON.stringify(fault));
  };

  // Eight clients call iris without pause while `during` runs; every answer is checked.
  const irisUnderLoad = async <T,>(during: () => Promise<T>): Promise<T> => {
    const answers: Answer[] = [];
    let stop = false;
    const loops = Array.from({ length: 8 }, async () => {
      while (!stop) answers.push(await infer('iris'));
    });
    while (answers.length < 20) await sleep(10);
    try {
      return await during();
    } finally {
      const at = answers.length;
      while (answers.length < at + 20) await sleep(10);
      stop = true;
      await Promise.all(loops);
      expect(answers.filter((a) => a.status !== 200 && !(a.status === 503 && a.retryAfter !== null))).toEqual([]);
      expect(answers.filter((a) => a.status === 200).every((a) => a.body.outputs?.find((o) => o.name === 'label')?.data.join() === 'setosa,virginica')).toBe(true);
    }
  };
  const hostsBack = async (): Promise<void> => {
    while (app.models.pool!.hostPids().length < 2) await sleep(20);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mlapi-quarantine-'));
    await cp(join(SHIPPED_REPOSITORY, 'iris'), join(dir, 'iris'), { recursive: true });
    await faulty('crash-at-load', { stage: 'load', action: 'abort' });
    await faulty('crash-at-run', { stage: 'run', action: 'abort', above: 1000 });
    await faulty('hog', { stage: 'run', action: 'allocate', above: 1000 });
    app = await buildApp({
      MODEL_REPOSITORY: dir,
      DEFAULT_MODEL: 'iris',
      INFERENCE_HOSTS: 'processes',
      INFERENCE_WORKERS: '2',
      INFERENCE_FAULT_INJECTION: 'true',
      // Far above what a host holds with these models (about 100 MiB under tsx), far below the machine.
      INFERENCE_HOST_MEMORY_MB: '600',
      CACHE_MAX_ENTRIES: '0',
      ADMIN_API_KEYS: ADMIN_KEY,
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await app.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a model that aborts its runtime at load is FAILED with the reason, opened only in throwaway processes: no serving host died', async () => {
    expect(await state('crash-at-load')).toEqual({ state: 'FAILED', reason: expect.stringContaining('the runtime crashed while loading: SIGABRT') });
    expect(await metric(app, 'mlapi_inference_instance_restarts_total')).toEqual([]);
    expect((await infer('crash-at-load')).status).toBe(503);
    expect((await fetch(`${base}/ready`)).status).toBe(200);

    // An admin load tries again (in throwaway processes again), with iris serving under load meanwhile.
    const before = app.models.pool!.hostPids();
    const loaded = await irisUnderLoad(() => fetch(`${base}/v1/models/crash-at-load/load`, { method: 'POST', headers: { 'x-api-key': ADMIN_KEY } }));
    expect(await loaded.json()).toMatchObject({ versions: [{ version: '1', state: 'FAILED', reason: expect.stringContaining('SIGABRT') }] });
    expect(await state('crash-at-load')).toMatchObject({ state: 'FAILED', reason: expect.stringContaining('SIGABRT') });
    expect(app.models.pool!.hostPids()).toEqual(before);
  });

  it('a model whose runtime aborts on a poison input crashes two hosts, then is quarantined; the rest serves on', async () => {
    expect(await infer('crash-at-run')).toMatchObject({ status: 200 });
    const poisoned = await irisUnderLoad(async () => {
      const answer = await infer('crash-at-run', POISON);
      await hostsBack();
      return answer;
    });
    // Retried once on the other host, which died too: 503, to retry later.
    expect(poisoned).toMatchObject({ status: 503, retryAfter: expect.any(String) });
    expect(await state('crash-at-run')).toEqual({ state: 'FAILED', reason: expect.stringContaining('the runtime crashed while running a batch: SIGABRT') });
    expect(await infer('crash-at-run')).toMatchObject({ status: 503, body: { error: expect.stringContaining('SIGABRT') } });
    expect(await metric(app, 'mlapi_inference_instance_restarts_total')).toEqual([expect.objectContaining({ labels: { reason: 'SIGABRT' }, value: 2 })]);
    expect((await fetch(`${base}/ready`)).status).toBe(200);
  });

  it('a model that allocates without bound: its host is replaced at the memory ceiling, the request answered 507', async () => {
    const hog = await irisUnderLoad(async () => {
      const answer = await infer('hog', POISON);
      await hostsBack();
      return answer;
    });
    expect(hog).toMatchObject({ status: 507, body: { error: expect.stringContaining('INFERENCE_HOST_MEMORY_MB (600 MiB)') } });
    expect(await metric(app, 'mlapi_inference_instance_restarts_total')).toContainEqual(expect.objectContaining({ labels: { reason: 'memory' }, value: 1 }));
    expect((await state('hog')).state).toBe('AVAILABLE');
    expect(await infer('hog')).toMatchObject({ status: 200 });

    // The second time, it is quarantined.
    expect((await infer('hog', POISON)).status).toBe(507);
    await hostsBack();
    expect(await state('hog')).toEqual({ state: 'FAILED', reason: expect.stringContaining('INFERENCE_HOST_MEMORY_MB') });
    expect((await fetch(`${base}/ready`)).status).toBe(200);
    expect(await infer('iris')).toMatchObject({ status: 200 });
  });
});
