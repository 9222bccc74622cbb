/**
 * Three replicas (real server processes) behind nginx, sharing a real redis-server and a real
 * S3-compatible store (s3rver) that holds the repository: what an operator changes on one
 * replica is served by all of them. The repository poll is an hour long, so whatever spreads
 * here spreads through the Redis notices, or is read from the store at start and on reconnect.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFleet, type Replica } from '../../scripts/lib/fleet.js';
import { pickVersion } from '../../src/repository/traffic-policy.js';
import { ROOT, SHIPPED_REPOSITORY } from '../helpers/app.js';
import { until as waitFor } from '../helpers/repository.js';

const ADMIN = 'fleet-admin-key-0123456789';
const IRIS = join(SHIPPED_REPOSITORY, 'iris', '1');
const ROW = { features: [6.7, 3.0, 5.2, 2.3] };
/** How long a test waits for a change to reach every replica: a bound on a slow machine, not the documented one (the bench measures that). */
const SPREAD_WAIT_MS = 30_000;

interface Summary {
  revision: number;
  replica: string;
  policy: Record<string, unknown> | null;
  statistics: string;
  replicas: { replica: string; revision: number }[];
  versions: { version: string; requests: number }[];
}

let fleet: LocalFleet;

const admin = (base: string, path: string, init: RequestInit = {}): Promise<Response> =>
  fetch(`${base}${path}`, { ...init, headers: { 'x-api-key': ADMIN, ...(init.body !== undefined && { 'content-type': 'application/json' }), ...(init.headers as Record<string, string> | undefined) } });
const summary = async (base: string): Promise<Summary> => (await admin(base, '/v1/models/iris/traffic')).json() as Promise<Summary>;
const putPolicy = (base: string, policy: unknown, ifMatch?: number): Promise<Response> =>
  admin(base, '/v1/models/iris/traffic', { method: 'PUT', body: JSON.stringify(policy), headers: ifMatch === undefined ? {} : { 'if-match': `"${ifMatch}"` } });
const predict = (base: string, clientId?: string): Promise<Response> =>
  fetch(`${base}/v1/models/iris/predict`, { method: 'POST', headers: { 'content-type': 'application/json', ...(clientId && { 'x-client-id': clientId }) }, body: JSON.stringify(ROW) });

/** Wait for `check`, a request that may fail meanwhile (a replica restarting, Redis down). */
const until = (check: () => Promise<boolean>, what: string): Promise<void> => waitFor(() => check().catch(() => false), what, SPREAD_WAIT_MS);

/** Wait until every replica serves `revision` (each asked directly). */
const everyReplicaAt = (revision: number, replicas: Replica[] = fleet.replicas): Promise<void> =>
  until(async () => (await Promise.all(replicas.map((r) => summary(r.base)))).every((s) => s.revision === revision), `every replica at revision ${revision}`);

/** `n` requests through the balancer, `concurrency` at a time: how many each version answered. */
async function versionsOf(n: number, concurrency = 12, clientId?: (i: number) => string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const res = await predict(fleet.base, clientId?.(i));
        expect(res.status).toBe(200);
        await res.arrayBuffer();
        const v = res.headers.get('x-model-version')!;
        counts[v] = (counts[v] ?? 0) + 1;
      }
    }),
  );
  return counts;
}

describe('a fleet of three replicas behind nginx, with Redis and an S3-compatible store', () => {
  beforeAll(async () => {
    expect(spawnSync(process.execPath, ['scripts/build-if-stale.mjs'], { cwd: ROOT, stdio: 'inherit' }).status).toBe(0);
    fleet = await LocalFleet.start({
      replicas: 3,
      publish: [
        { name: 'iris', version: '1', dir: IRIS },
        { name: 'iris', version: '2', dir: IRIS },
      ],
      configs: { iris: { version_policy: { all: {} } } },
      env: { ADMIN_API_KEYS: ADMIN, API_KEYS: '', DEFAULT_MODEL: 'iris', MODEL_POLL_INTERVAL_S: '3600', FLEET_REPORT_INTERVAL_S: '0.5', CACHE_MAX_ENTRIES: '0', WARMUP_RUNS: '0' },
    });
  });
  afterAll(async () => {
    await fleet?.stop();
  });

  it('a policy set on one replica is served by all three: 3,000 requests through the balancer split within ±3 points, counted for the fleet', async () => {
    const put = await putPolicy(fleet.replicas[0]!.base, { split: { '1': 70, '2': 30 } });
    expect(put.status).toBe(200);
    const { revision } = (await put.json()) as Summary;
    expect(revision).toBe(1);
    await everyReplicaAt(revision);

    const counts = await versionsOf(3000);
    expect(counts['1']! + counts['2']!).toBe(3000);
    expect(Math.abs((counts['2']! / 3000) * 100 - 30)).toBeLessThanOrEqual(3);

    // Any replica answers for the whole fleet: its own counts now, the others' as they last reported (every 0.5 s here).
    let fleetView = await summary(fleet.replicas[2]!.base);
    await until(async () => (fleetView = await summary(fleet.replicas[2]!.base)).versions.reduce((a, v) => a + v.requests, 0) === 3000, 'the fleet summary counting all 3,000');
    expect(fleetView.statistics).toBe('fleet');
    expect(fleetView.replicas).toHaveLength(3);
    expect(fleetView.replicas.every((r) => r.revision === revision)).toBe(true);
    expect(Object.fromEntries(fleetView.versions.map((v) => [v.version, v.requests]))).toEqual(counts);
  });

  it("shadow statistics are the fleet's: every mirrored request counted once, whichever replica took it", async () => {
    const put = await putPolicy(fleet.replicas[0]!.base, { split: { '1': 100 }, shadow: { version: '2', fraction: 1 } });
    expect(put.status).toBe(200);
    await everyReplicaAt(((await put.json()) as Summary).revision);
    // One at a time, with room between: a shadow copy runs only while its replica has nothing else in hand.
    for (let i = 0; i < 60; i++) {
      await (await predict(fleet.base)).arrayBuffer();
      await new Promise((r) => setTimeout(r, 20));
    }
    type Shadow = { compared: number; dropped: number; failed: number };
    let shadow: Shadow | undefined;
    await until(async () => {
      shadow = ((await summary(fleet.replicas[1]!.base)) as Summary & { shadow: Shadow }).shadow;
      return shadow.compared + shadow.dropped + shadow.failed === 60;
    }, 'the fleet counting all 60 shadow copies');
    expect(shadow!.compared).toBeGreaterThan(0);
  });

  it('sticky: a client key gets the same version from every replica, as any process computes it', async () => {
    const policy = { split: { '1': 80, '2': 20 }, sticky: true };
    const put = await putPolicy(fleet.replicas[1]!.base, policy);
    expect(put.status).toBe(200);
    await everyReplicaAt(((await put.json()) as Summary).revision);
    const keys = Array.from({ length: 40 }, (_, i) => `user-${i}`);
    let onTwo = 0;
    for (const key of keys) {
      // The server's key for a client that sends X-Client-Id (src/routes/client-key.ts).
      const expected = pickVersion(policy, new Set(['1', '2']), `client:${key}`);
      const served = await Promise.all([...fleet.replicas.map((r) => r.base), fleet.base, fleet.base].map(async (base) => (await predict(base, key)).headers.get('x-model-version')));
      expect(new Set(served), key).toEqual(new Set([expected]));
      if (expected === '2') onTwo++;
    }
    expect(onTwo).toBeGreaterThan(0);
    expect(onTwo).toBeLessThan(40);
  });

  it('two concurrent writes naming the same revision: one wins, the other gets 409; without If-Match both land, one after the other', async () => {
    const { revision } = await summary(fleet.replicas[0]!.base);
    const [a, b] = await Promise.all([
      putPolicy(fleet.replicas[0]!.base, { split: { '1': 60, '2': 40 } }, revision),
      putPolicy(fleet.replicas[1]!.base, { split: { '1': 40, '2': 60 } }, revision),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    const [winner, loser] = a.status === 200 ? [a, b] : [b, a];
    const won = (await winner.json()) as Summary;
    const lost = (await loser.json()) as { type: string; detail: string };
    expect(won.revision).toBe(revision + 1);
    expect(lost.type).toBe('urn:ml-inference-api:problem:revision-conflict');
    expect(lost.detail).toMatch(new RegExp(`revision ${revision + 1}, not ${revision}`));
    await everyReplicaAt(revision + 1);
    for (const r of fleet.replicas) expect((await summary(r.base)).policy).toEqual(won.policy);

    const both = await Promise.all([putPolicy(fleet.replicas[1]!.base, { split: { '1': 50, '2': 50 } }), putPolicy(fleet.replicas[2]!.base, { split: { '1': 90, '2': 10 } })]);
    expect(both.map((r) => r.status)).toEqual([200, 200]);
    const revisions = await Promise.all(both.map(async (r) => ((await r.json()) as Summary).revision));
    expect(revisions.sort((x, y) => x - y)).toEqual([revision + 2, revision + 3]);
    await everyReplicaAt(revision + 3);
  });

  it('an unload on one replica stops the model on all; a load through the balancer brings it back everywhere', async () => {
    expect((await admin(fleet.replicas[2]!.base, '/v1/models/iris/unload', { method: 'POST' })).status).toBe(200);
    await until(async () => (await Promise.all(fleet.replicas.map(async (r) => (await predict(r.base)).status))).every((s) => s === 503), 'every replica refusing iris');
    const refused = await predict(fleet.base);
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { detail: string }).detail).toBe("model 'iris' is unloaded");

    expect((await admin(fleet.base, '/v1/models/iris/load', { method: 'POST' })).status).toBe(200);
    const bothAvailable = async (r: Replica): Promise<boolean> => {
      const { versions } = (await (await fetch(`${r.base}/v1/models/iris`)).json()) as { versions: { state: string }[] };
      return versions.length === 2 && versions.every((v) => v.state === 'AVAILABLE');
    };
    await until(async () => (await Promise.all(fleet.replicas.map(bothAvailable))).every(Boolean), 'every replica serving both versions of iris again');
    expect((await Promise.all(fleet.replicas.map(async (r) => (await predict(r.base)).status))).every((s) => s === 200)).toBe(true);
  });

  it('a replica started later serves the current policy at once', async () => {
    const policy = { split: { '1': 80, '2': 20 }, sticky: true };
    const put = await putPolicy(fleet.base, policy);
    expect(put.status).toBe(200);
    const { revision } = (await put.json()) as Summary;
    await everyReplicaAt(revision);
    const late = await fleet.startReplica();
    const first = await summary(late.base);
    expect(first.revision).toBe(revision);
    expect(first.policy).toEqual(policy);
    for (const key of ['user-1', 'user-2', 'user-3', 'user-4', 'user-5', 'user-6']) {
      expect((await predict(late.base, key)).headers.get('x-model-version')).toBe((await predict(fleet.replicas[0]!.base, key)).headers.get('x-model-version'));
    }
    await fleet.stopReplica(late);
  });

  it('Redis down: every replica keeps serving what it has, a change still lands in the store, and all take it in when Redis is back', async () => {
    const before = await summary(fleet.replicas[0]!.base);
    await fleet.killRedis();
    for (const r of fleet.replicas) expect((await summary(r.base)).revision).toBe(before.revision);
    const served = await versionsOf(300);
    expect(served['1']! + served['2']!).toBe(300);

    const put = await putPolicy(fleet.replicas[0]!.base, { split: { '1': 50, '2': 50 } });
    expect(put.status).toBe(200);
    const { revision, statistics } = (await put.json()) as Summary;
    expect(revision).toBe(before.revision + 1);
    expect(statistics).toBe('replica');
    // The others keep the last state they know (their poll is an hour away).
    for (const r of fleet.replicas.slice(1)) expect((await summary(r.base)).revision).toBe(before.revision);

    await fleet.startRedis();
    await everyReplicaAt(revision);
    await until(async () => (await summary(fleet.base)).statistics === 'fleet', 'the fleet summary back');
  });
});
