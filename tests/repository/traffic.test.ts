/**
 * Traffic policies over real HTTP on the real app: canary splits, sticky assignment, shadow
 * versions, the admin API and config.json, with two iris versions that answer differently.
 */
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, SHIPPED_REPOSITORY } from '../helpers/app.js';
import { TempRepository } from '../helpers/repository.js';

const ADMIN = 'traffic-admin-key-0123456789';
const ROWS = [
  [5.1, 3.5, 1.4, 0.2],
  [6.7, 3.0, 5.2, 2.3],
  [5.9, 2.8, 4.3, 1.3],
  [6.3, 2.5, 4.9, 1.5],
  [6.0, 2.2, 5.0, 1.5],
  [4.9, 2.5, 4.5, 1.7],
];

describe('traffic policies', () => {
  let repo: TempRepository;
  let app: FastifyInstance;
  let base: string;

  /** Copy the shipped iris as `version`; version 2 standardizes with other spreads, so it answers differently. */
  function publishIris(version: string, change?: (m: Record<string, unknown>) => void): void {
    const dir = join(repo.root, 'iris', version);
    mkdirSync(join(repo.root, 'iris'), { recursive: true });
    cpSync(join(SHIPPED_REPOSITORY, 'iris', '1'), dir, { recursive: true });
    if (change) {
      const m = JSON.parse(readFileSync(join(dir, 'metadata.json'), 'utf8')) as Record<string, unknown>;
      change(m);
      writeFileSync(join(dir, 'metadata.json'), JSON.stringify(m));
    }
  }

  const predict = async (path = '/v1/models/iris/predict', row = ROWS[1]!, headers: Record<string, string> = {}) => {
    const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ features: row }) });
    return { status: res.status, version: res.headers.get('x-model-version'), body: (await res.json()) as { probabilities: number[]; class_label: string; model: { version: string } } };
  };
  const admin = async (method: 'GET' | 'PUT', body?: unknown) => {
    const res = await fetch(`${base}/v1/models/iris/traffic`, { method, headers: { 'x-api-key': ADMIN, ...(body !== undefined && { 'content-type': 'application/json' }) }, ...(body !== undefined && { body: JSON.stringify(body) }) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> & { policy: unknown; detail?: string; shadow: Record<string, number> | null; versions: Record<string, unknown>[] } };
  };

  beforeAll(async () => {
    repo = new TempRepository();
    publishIris('1');
    publishIris('2', (m) => {
      const s = m.standardization as { std: number[] };
      s.std = s.std.map((v, i) => (i >= 2 ? v * 3 : v));
    });
    repo.config('iris', { version_policy: { all: {} } });
    app = await buildApp({ MODEL_REPOSITORY: repo.root, DEFAULT_MODEL: 'iris', ADMIN_API_KEYS: ADMIN, CACHE_MAX_ENTRIES: '0', MODEL_POLL_INTERVAL_S: '0' });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await app.close();
    repo.dispose();
  });

  it('without a policy the default (highest) version answers; a request naming a version gets it', async () => {
    expect((await admin('GET')).body).toMatchObject({ model: 'iris', policy: null, source: null });
    expect((await predict()).version).toBe('2');
    expect((await predict('/v1/models/iris/versions/1/predict')).version).toBe('1');
  });

  it('splits 2,000 requests by weight within ±3 points, on the native and the V2 routes', async () => {
    expect((await admin('PUT', { split: { '1': 70, '2': 30 } })).status).toBe(200);
    const requestsOf = (body: { versions: Record<string, unknown>[] }, v: string): number => Number(body.versions.find((x) => x.version === v)?.requests ?? 0);
    const earlier = (await admin('GET')).body;
    const counts: Record<string, number> = {};
    for (let i = 0; i < 2000; i++) {
      const r = await predict(i % 2 ? '/v1/models/iris/predict' : '/predict');
      expect(r.status).toBe(200);
      expect(r.body.model.version).toBe(r.version);
      counts[r.version!] = (counts[r.version!] ?? 0) + 1;
    }
    // Smooth weighted round-robin: the shares are exact to within a request, well inside ±3 points.
    expect(Math.abs(counts['1']! / 2000 - 0.7)).toBeLessThan(0.03);
    expect(Math.abs(counts['2']! / 2000 - 0.3)).toBeLessThan(0.03);
    expect(Math.abs(counts['2']! - 600)).toBeLessThanOrEqual(1);
    const v2: Record<string, number> = {};
    for (let i = 0; i < 400; i++) {
      const res = await fetch(`${base}/v2/models/iris/infer`, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP64', shape: [1, 4], data: ROWS[1] }] }) });
      const version = ((await res.json()) as { model_version: string }).model_version;
      expect(res.headers.get('x-model-version')).toBe(version);
      v2[version] = (v2[version] ?? 0) + 1;
    }
    expect(v2['1']! + v2['2']!).toBe(400);
    expect(v2['2']!).toBeGreaterThan(60);
    const summary = (await admin('GET')).body;
    expect(summary).toMatchObject({ policy: { split: { '1': 70, '2': 30 }, sticky: false }, source: 'api' });
    // Every answered unversioned request is counted for its version, native and V2 alike.
    expect(requestsOf(summary, '1') - requestsOf(earlier, '1')).toBe(counts['1']! + v2['1']!);
    expect(requestsOf(summary, '2') - requestsOf(earlier, '2')).toBe(counts['2']! + v2['2']!);
    expect(summary.versions).toEqual(expect.arrayContaining([expect.objectContaining({ version: '1', role: 'primary', errors: 0 }), expect.objectContaining({ version: '2', role: 'canary', errors: 0 })]));
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain(`mlapi_traffic_requests_total{model="iris",version="2",role="canary"} ${counts['2']! + v2['2']!}`);
  });

  it('sticky: a client keeps its version; moving 5 % to 20 % moves only clients from 1 to 2, about 15 %', async () => {
    await admin('PUT', { split: { '1': 95, '2': 5 }, sticky: true });
    const clients = Array.from({ length: 1000 }, (_, i) => `client-${i}`);
    const assign = async (): Promise<Map<string, string>> => {
      const out = new Map<string, string>();
      for (const c of clients) out.set(c, (await predict(undefined, undefined, { 'x-client-id': c })).version!);
      return out;
    };
    const before = await assign();
    for (const c of clients.slice(0, 100)) expect((await predict(undefined, undefined, { 'x-client-id': c })).version).toBe(before.get(c));
    const share = (m: Map<string, string>): number => [...m.values()].filter((v) => v === '2').length / m.size;
    expect(Math.abs(share(before) - 0.05)).toBeLessThan(0.03);
    await admin('PUT', { split: { '1': 80, '2': 20 }, sticky: true });
    const after = await assign();
    expect(Math.abs(share(after) - 0.2)).toBeLessThan(0.03);
    const moved = clients.filter((c) => before.get(c) !== after.get(c));
    for (const c of moved) expect([before.get(c), after.get(c)]).toEqual(['1', '2']);
    expect(Math.abs(moved.length / clients.length - 0.15)).toBeLessThan(0.03);
  });

  it('shadow: answers stay the primary version\'s; agreement and mean |Δp| match values computed by hand', async () => {
    await admin('PUT', { split: { '1': 100 }, shadow: { version: '2', fraction: 1 } });
    const expected = { agree: 0, diff: 0 };
    for (const row of ROWS) {
      const one = await predict('/v1/models/iris/versions/1/predict', row);
      const two = await predict('/v1/models/iris/versions/2/predict', row);
      if (one.body.class_label === two.body.class_label) expected.agree++;
      expected.diff += one.body.probabilities.reduce((a, p, i) => a + Math.abs(p - two.body.probabilities[i]!), 0) / 3;
      const compared = (await admin('GET')).body.shadow?.compared ?? 0;
      const primary = await predict(undefined, row);
      expect(primary.version).toBe('1');
      expect(primary.body.probabilities).toEqual(one.body.probabilities);
      // The copy runs after the answer, on spare capacity: nothing else is sent until it is compared.
      while (((await admin('GET')).body.shadow?.compared ?? 0) === compared) await new Promise((r) => setTimeout(r, 5));
    }
    const shadow = (await admin('GET')).body.shadow;
    expect(shadow).toMatchObject({ version: '2', compared: ROWS.length, dropped: 0, failed: 0 });
    expect(expected.agree).toBeLessThan(ROWS.length);
    expect(shadow!.agreement_rate).toBeCloseTo(expected.agree / ROWS.length, 6);
    expect(shadow!.mean_abs_diff).toBeCloseTo(expected.diff / ROWS.length, 5);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`mlapi_shadow_comparisons_total\\{model="iris",version="1",shadow_version="2",agreement="agree"\\} ${expected.agree}`));
    expect(metrics).toMatch(/mlapi_traffic_requests_total\{model="iris",version="2",role="shadow"\} [1-9]/);
  });

  it('refuses invalid policies with 400 and keeps the one in force', async () => {
    const inForce = (await admin('GET')).body.policy;
    for (const [policy, why] of [
      [{ split: { '1': 50, '9': 50 } }, /version 9 is not AVAILABLE/],
      [{ split: { '1': -5, '2': 10 } }, /must not be negative/],
      [{ split: { '1': 0, '2': 0 } }, /must not all be zero/],
      [{ split: { '1': 100 }, canary: true }, /canary/],
      [{ split: { latest: 100 } }, /versions/],
      [{ shadow: { version: '2', fraction: 1.5 } }, /fraction/],
    ] as const) {
      const res = await admin('PUT', policy);
      expect(res.status, JSON.stringify(policy)).toBe(400);
      expect(res.body.detail).toMatch(why);
    }
    expect((await admin('GET')).body.policy).toEqual(inForce);
    expect((await fetch(`${base}/v1/models/iris/traffic`)).status).toBe(401);
  });

  it('config.json: a valid policy takes over (hot reload); a bad one is refused, visibly, the previous staying', async () => {
    repo.config('iris', { version_policy: { all: {} }, traffic: { split: { '1': 50, '2': 50 } } });
    await app.models.repository.reload('iris');
    expect((await admin('GET')).body).toMatchObject({ policy: { split: { '1': 50, '2': 50 } }, source: 'file', problem: null });
    repo.config('iris', { version_policy: { all: {} }, traffic: { split: { '1': 50, '7': 50 } } });
    await app.models.repository.reload('iris');
    const refused = (await admin('GET')).body;
    expect(refused).toMatchObject({ policy: { split: { '1': 50, '2': 50 } }, source: 'file' });
    expect(refused.problem).toMatch(/version 7 is not AVAILABLE; the previous policy stays in force/);
    repo.config('iris', { version_policy: { all: {} }, traffic: { split: { '1': 1, '2': -1 } } });
    await app.models.repository.reload('iris');
    expect((await admin('GET')).body.problem).toMatch(/must not be negative/);
    expect((await admin('GET')).body.policy).toMatchObject({ split: { '1': 50, '2': 50 } });
  });

  it('a version in the split unloaded under load: its share goes to the others, no request fails', async () => {
    await admin('PUT', { split: { '1': 50, '2': 50 } });
    let stop = false;
    const statuses: number[] = [];
    const versions = new Set<string>();
    const load = (async () => {
      while (!stop) {
        const r = await predict();
        statuses.push(r.status);
        versions.add(r.version!);
      }
    })();
    await new Promise((r) => setTimeout(r, 100));
    rmSync(join(repo.root, 'iris', '2'), { recursive: true, force: true });
    await app.models.repository.reload('iris');
    const afterUnload: string[] = [];
    for (let i = 0; i < 50; i++) afterUnload.push((await predict()).version!);
    stop = true;
    await load;
    expect(statuses.length).toBeGreaterThan(50);
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(new Set(afterUnload)).toEqual(new Set(['1']));
  });
});

describe('traffic policies: the cache stays per version; shadows are dropped, not queued', () => {
  let repo: TempRepository;
  let app: FastifyInstance;
  beforeAll(async () => {
    repo = new TempRepository();
    for (const v of ['1', '2']) {
      mkdirSync(join(repo.root, 'iris'), { recursive: true });
      cpSync(join(SHIPPED_REPOSITORY, 'iris', '1'), join(repo.root, 'iris', v), { recursive: true });
    }
    const m2 = join(repo.root, 'iris', '2', 'metadata.json');
    const meta = JSON.parse(readFileSync(m2, 'utf8')) as { standardization: { std: number[] } };
    meta.standardization.std[3]! *= 3;
    writeFileSync(m2, JSON.stringify(meta));
    repo.config('iris', { version_policy: { all: {} } });
    app = await buildApp({ MODEL_REPOSITORY: repo.root, DEFAULT_MODEL: 'iris', ADMIN_API_KEYS: ADMIN, SHADOW_QUEUE: '0' });
  });
  afterAll(async () => {
    await app.close();
    repo.dispose();
  });

  const post = (url: string, payload: unknown, headers: Record<string, string> = {}) => app.inject({ method: 'POST', url, payload: payload as object, headers });

  it('a cached answer comes from the version that was chosen, never from the other', async () => {
    const own: Record<string, number[]> = {};
    for (const v of ['1', '2']) own[v] = (await post(`/v1/models/iris/versions/${v}/predict`, { features: ROWS[3] })).json<{ probabilities: number[] }>().probabilities;
    expect(own['1']).not.toEqual(own['2']);
    await app.inject({ method: 'PUT', url: '/v1/models/iris/traffic', headers: { 'x-api-key': ADMIN }, payload: { split: { '1': 50, '2': 50 } } });
    const hits: Record<string, number> = {};
    for (let i = 0; i < 40; i++) {
      const res = await post('/v1/models/iris/predict', { features: ROWS[3] });
      const version = res.headers['x-model-version'] as string;
      expect(res.json<{ probabilities: number[] }>().probabilities).toEqual(own[version]);
      if (res.headers['x-cache'] === 'HIT') hits[version] = (hits[version] ?? 0) + 1;
    }
    expect(hits['1']).toBeGreaterThan(0);
    expect(hits['2']).toBeGreaterThan(0);
  });

  it('with no room in the shadow queue every copy is dropped and counted; the answers do not change', async () => {
    await app.inject({ method: 'PUT', url: '/v1/models/iris/traffic', headers: { 'x-api-key': ADMIN }, payload: { split: { '1': 100 }, shadow: { version: '2', fraction: 1 } } });
    for (let i = 0; i < 5; i++) expect((await post('/v1/models/iris/predict', { features: ROWS[i] })).headers['x-model-version']).toBe('1');
    await new Promise((r) => setTimeout(r, 50));
    const summary = (await app.inject({ url: '/v1/models/iris/traffic', headers: { 'x-api-key': ADMIN } })).json<{ shadow: Record<string, number> }>();
    expect(summary.shadow).toMatchObject({ version: '2', compared: 0, dropped: 5 });
    expect((await app.inject({ url: '/metrics' })).body).toMatch(/mlapi_shadow_dropped_total\{model="iris",version="2"\} 5/);
  });
});
