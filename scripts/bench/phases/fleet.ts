/**
 * fleet: replicas behind nginx sharing Redis and an S3-compatible store (scripts/lib/fleet.ts).
 * Throughput of a tabular /v1/models/iris/predict at concurrency 32 straight to one replica and
 * through the balancer to 1, 2 and 3 replicas, alternating, --rounds each (on 2 cores the point
 * is what the balancer and the shared state cost, not scaling); then how long a traffic policy
 * set on one replica takes to be served by every replica, with Redis notices and by polling alone.
 */
import autocannon from 'autocannon';
import { join } from 'node:path';
import { LocalFleet, type Publish } from '../../lib/fleet.js';
import { duration, log, results, save, values, want } from '../context.js';
import { median } from '../harness.js';

const ADMIN = 'bench-admin-key-0123456789';
const CONFIGS = ['direct', 'lb1', 'lb2', 'lb3'] as const;
const PROPAGATIONS = 15;
const POLL_INTERVAL_S = 2;
const POLL_CHANGES = 10;

/** A replica's warnings and errors go to the bench's log (a repository scan that failed explains a slow spread). */
const replicaLog = (replica: string, text: string): void => {
  for (const line of text.split('\n')) if (/"level":[456]0/.test(line)) log(`  ${replica}: ${line.slice(0, 400)}`);
};

const iris = (): Publish[] => ['1', '2'].map((version) => ({ name: 'iris', version, dir: join(values.repository, 'iris', '1') }));

async function rps(url: string): Promise<{ rps: number; p50: number; errors: number }> {
  const r = await autocannon({
    url,
    connections: 32,
    duration,
    timeout: 10,
    requests: [{ method: 'POST', path: '/v1/models/iris/predict', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ features: [6.7, 3.0, 5.2, 2.3] }) }],
  });
  const okCount = r.statusCodeStats?.['200']?.count ?? 0;
  return { rps: okCount / duration, p50: r.latency.p50, errors: r.non2xx + (r.errors ?? 0) };
}

/** Milliseconds from sending a PUT to replica 1 until every replica serves the new revision (each asked directly, every 2 ms). */
async function propagation(fleet: LocalFleet, i: number): Promise<number> {
  const started = performance.now();
  const res = await fetch(`${fleet.replicas[0]!.base}/v1/models/iris/traffic`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', 'x-api-key': ADMIN },
    body: JSON.stringify({ split: { '1': 50 + (i % 2) * 10, '2': 50 - (i % 2) * 10 } }),
  });
  if (res.status !== 200) throw new Error(`PUT traffic answered ${res.status}`);
  const { revision } = (await res.json()) as { revision: number };
  const pending = new Set(fleet.replicas.slice(1));
  while (pending.size > 0) {
    for (const r of [...pending]) {
      const s = (await (await fetch(`${r.base}/v1/models/iris/traffic`, { headers: { 'x-api-key': ADMIN } })).json()) as { revision: number };
      if (s.revision >= revision) pending.delete(r);
    }
    if (performance.now() - started > 60_000) throw new Error(`revision ${revision} did not reach every replica in 60 s`);
    if (pending.size > 0) await new Promise((r) => setTimeout(r, 2));
  }
  return Math.round((performance.now() - started) * 10) / 10;
}

export async function run(): Promise<void> {
  if (!want('fleet')) return;
  const fl = (results.fleet ??= { rps: {}, p50: {}, errors: {}, propagationMs: {}, pollIntervalS: POLL_INTERVAL_S });
  const rounds = Number(values.rounds);
  const env = { ADMIN_API_KEYS: ADMIN, API_KEYS: '', DEFAULT_MODEL: 'iris', CACHE_MAX_ENTRIES: '0', RATE_LIMIT_MAX: '0' };
  const done = (): number => Math.min(...CONFIGS.map((c) => fl.rps[c]?.length ?? 0));
  if (done() < rounds || (fl.propagationMs.redis?.length ?? 0) < PROPAGATIONS) {
    log('fleet: starting 3 replicas behind nginx, with redis-server and s3rver');
    const fleet = await LocalFleet.start({ replicas: 3, publish: iris(), configs: { iris: { version_policy: { all: {} } } }, env: { ...env, MODEL_POLL_INTERVAL_S: '3600' }, log: replicaLog });
    try {
      for (let i = done(); i < rounds; i++) {
        const order = i % 2 === 0 ? CONFIGS : [...CONFIGS].reverse();
        for (const c of order) {
          if ((fl.rps[c]?.length ?? 0) > i) continue;
          if (c !== 'direct') await fleet.balance(Number(c.slice(2)));
          log(`fleet: ${c === 'direct' ? 'one replica, no balancer' : `nginx in front of ${c.slice(2)} replica(s)`}, concurrency 32, ${duration} s (round ${i + 1} of ${rounds})`);
          const r = await rps(c === 'direct' ? fleet.replicas[0]!.base : fleet.base);
          (fl.rps[c] ??= []).push(r.rps);
          (fl.p50[c] ??= []).push(r.p50);
          fl.errors[c] = (fl.errors[c] ?? 0) + r.errors;
          await save();
          log(`  ${r.rps.toFixed(0)} req/s, p50 ${r.p50} ms, errors ${r.errors}`);
        }
      }
      const redis = (fl.propagationMs.redis ??= []);
      for (let i = redis.length; i < PROPAGATIONS; i++) redis.push(await propagation(fleet, i));
      log(`fleet: a policy reaches every replica in ${median(redis)} ms (median of ${redis.length}, Redis notices; max ${Math.max(...redis)} ms)`);
      await save();
    } finally {
      await fleet.stop();
    }
  }
  if ((fl.propagationMs.poll?.length ?? 0) < POLL_CHANGES) {
    log(`fleet: 3 replicas without Redis, polling the store every ${POLL_INTERVAL_S} s`);
    const fleet = await LocalFleet.start({ replicas: 3, redis: false, publish: iris(), configs: { iris: { version_policy: { all: {} } } }, env: { ...env, MODEL_POLL_INTERVAL_S: String(POLL_INTERVAL_S) }, log: replicaLog });
    try {
      const poll = (fl.propagationMs.poll ??= []);
      for (let i = poll.length; i < POLL_CHANGES; i++) {
        // A change lands at any point of the replicas' poll cycle, not right after one.
        await new Promise((r) => setTimeout(r, Math.random() * POLL_INTERVAL_S * 1000));
        poll.push(await propagation(fleet, i));
      }
      log(`fleet: by polling alone, every replica in ${median(poll)} ms (median of ${poll.length}; max ${Math.max(...poll)} ms)`);
      await save();
    } finally {
      await fleet.stop();
    }
  }
}
