/**
 * The dataplane alone, without Fastify: holding (explicit version, traffic policy), the cache,
 * per-version records, mirroring to a shadow version, explanations and their slots, and the
 * serving errors of a model that cannot run. The versions are stand-ins whose model adds up
 * its inputs; the traffic router, metrics and cache are the real ones.
 */
import { describe, expect, it } from 'vitest';
import { MemoryCache } from '../../src/cache/memory-cache.js';
import type { ServedVersion } from '../../src/inference/served-version.js';
import { QueueFullError } from '../../src/inference/scheduler.js';
import type { KindModel } from '../../src/kinds/kind.js';
import { ServiceMetrics } from '../../src/metrics/service-metrics.js';
import type { ModelRepository } from '../../src/repository/repository.js';
import type { Lease } from '../../src/repository/types.js';
import { Dataplane } from '../../src/serving/dataplane.js';
import { invalidInput, ServingError, type Outcome } from '../../src/serving/errors.js';
import { TrafficRouter } from '../../src/serving/traffic-router.js';

/** A kind whose input is a list of numbers, prepared as they are; one output: the model's. */
function numbersKind(contract = 'numbers'): KindModel<number[]> {
  return {
    kind: 'numbers',
    labels: [],
    signature: { inputShape: [2], outputs: 1 },
    runtime: {},
    contract,
    sampleInput: async () => new Float32Array(2),
    checkOutput: () => undefined,
    describe: () => ({}),
    readSingle: async () => [0, 0],
    readBatch: async () => [],
    inspect(values) {
      if (values.some((v) => !Number.isFinite(v))) throw invalidInput('not-finite', 'values must be finite');
      return { key: { bytes: Buffer.from(JSON.stringify(values)) }, warnings: values[0]! > 100 ? [{ message: 'large', feature: 'first' }] : [], prepare: async () => ({ tensor: Float32Array.from(values) }) };
    },
    answer: (o) => ({ value: o[0] }),
    summarize: (o) => ({ value: o[0]! }),
    openInference: { inputs: [], outputs: [], properties: {}, items: 'rows', decode: () => [], encode: () => ({}) },
    planExplanation: (values) => ({
      method: 'each',
      run: async (evaluate) => {
        const outs = await evaluate(values.map((v) => Float32Array.from([v, 0])));
        return { method: 'each', evaluations: outs.length, body: { outputs: outs.map((o) => o[0]) }, log: {} };
      },
    }),
    openApi: () => ({ summary: '', batchSummary: '', single: { content: {} }, batch: { content: {} }, answer: {} }),
  };
}

interface Fake {
  version: ServedVersion;
  calls: Float32Array[][];
}

/** A version whose model adds its inputs up, times `scale`; `gate` holds its calls until resolved. */
function fakeVersion(version: string, opts: { scale?: number; contract?: string; fail?: Error; gate?: Promise<void> } = {}): Fake {
  const calls: Float32Array[][] = [];
  const kind = numbersKind(opts.contract);
  const served = {
    ref: { name: 'm', version, revision: 'r1' },
    name: 'm',
    version,
    kind,
    labels: [],
    runtime: 'onnx',
    backend: 'cpu',
    async run(inputs: readonly Float32Array[]) {
      calls.push([...inputs]);
      if (opts.gate) await opts.gate;
      if (opts.fail) throw opts.fail;
      return inputs.map((x) => Float32Array.from([x.reduce((a, b) => a + b, 0) * (opts.scale ?? 1)]));
    },
    stats: () => ({ queued: 0, inFlightBatches: 0 }),
  };
  return { version: served as unknown as ServedVersion, calls };
}

function setup(versions: Fake[], opts: { cache?: boolean; explainConcurrency?: number; maxBatch?: number } = {}) {
  const byVersion = new Map(versions.map((f) => [f.version.version, f.version]));
  const latest = versions.at(-1)!.version.version;
  const released: string[] = [];
  const gone = new Set<string>();
  const warnings: [string, string][] = [];
  const repository = {
    acquire(name: string, version?: string): Lease<ServedVersion> {
      const value = gone.has(version ?? latest) ? undefined : byVersion.get(version ?? latest);
      if (!value) throw new ServingError('not-found', 'unknown-version', `model '${name}' has no version ${version}`);
      return { value, name, version: value.version, release: () => released.push(value.version) };
    },
    availableVersions: () => new Set(byVersion.keys()),
    // The record a PUT writes (config.json in a real repository), read back as the repository would.
    trafficConfig: () => ({ raw: record.traffic }),
    configRevision: () => ({ revision: record.revision, digest: String(record.revision) }),
    setTraffic: async (_name: string, policy: unknown) => {
      record = { traffic: policy, revision: record.revision + 1 };
      return record.revision;
    },
  } as unknown as ModelRepository<ServedVersion>;
  let record: { traffic: unknown; revision: number } = { traffic: undefined, revision: 0 };
  const metrics = new ServiceMetrics({ queued: () => 0, inFlightBatches: () => 0, inferenceCpuSeconds: () => Number.NaN, models: () => [], defaultModel: () => null });
  const traffic = new TrafficRouter(repository, metrics, { shadowQueue: 4, random: () => 0, onWarning: (m, w) => warnings.push([m, w]) });
  const plane = new Dataplane({ repository, traffic, cache: opts.cache ? new MemoryCache(100, 60) : null, metrics, maxBatch: opts.maxBatch ?? 32, explainConcurrency: opts.explainConcurrency ?? 1 });
  return { plane, traffic, metrics, released, gone, warnings };
}

const ok = (values: number[]): Outcome<unknown> => ({ ok: true, value: values });
const until = async (check: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
};

describe('the dataplane', () => {
  it('holds the version named, or the one the traffic policy picks with its role; release lets it go', async () => {
    const { plane, traffic, released } = setup([fakeVersion('1'), fakeVersion('2')]);
    const named = plane.hold({ name: 'm', version: '1' });
    expect([named.model.version, named.role]).toEqual(['1', undefined]);
    named.release();
    await traffic.put('m', { split: { '1': 50, '2': 50 } });
    const picked = [0, 1, 2, 3].map(() => {
      const ex = plane.hold({ name: 'm' });
      ex.release();
      return `${ex.model.version}:${ex.role}`;
    });
    expect(picked.sort()).toEqual(['1:canary', '1:canary', '2:primary', '2:primary']);
    // An explanation goes to the default version, never by the policy.
    const unrouted = plane.hold({ name: 'm', routed: false });
    expect([unrouted.model.version, unrouted.role]).toEqual(['2', undefined]);
    unrouted.release();
    expect(released).toHaveLength(6);
  });

  it('runs valid inputs as one batch; a bad input fails alone; the cache answers the second time', async () => {
    const v1 = fakeVersion('1');
    const { plane } = setup([v1], { cache: true });
    const ex = plane.hold({ name: 'm', version: '1' });
    const first = await ex.infer([ok([1, 2]), ok([Number.NaN, 1]), { ok: false, error: invalidInput('bad', 'read failed') }, ok([3, 4])]);
    expect(first.map((o) => (o.ok ? o.value.output[0] : o.error.reason))).toEqual([3, 'not-finite', 'bad', 7]);
    expect(v1.calls).toHaveLength(1);
    expect(v1.calls[0]).toHaveLength(2);
    await new Promise((r) => setTimeout(r, 10));
    const second = await ex.infer([ok([1, 2]), ok([5, 5])]);
    expect(second.map((o) => o.ok && [o.value.output[0], o.value.cached])).toEqual([
      [3, true],
      [10, false],
    ]);
    expect(v1.calls[1]).toHaveLength(1);
    ex.release();
  });

  it('records each input of a routed request for its version, and a request that failed before running as one error', async () => {
    const { plane, traffic } = setup([fakeVersion('1')]);
    await traffic.put('m', { split: { '1': 100 } });
    const ex = plane.hold({ name: 'm' });
    await ex.infer([ok([1, 1]), ok([Number.NaN, 0]), ok([200, 1])]);
    ex.release();
    plane.hold({ name: 'm' }).release();
    expect(traffic.summary('m').versions).toEqual([expect.objectContaining({ version: '1', role: 'primary', requests: 4, errors: 2 })]);
  });

  it('mirrors every answered input to the shadow version once sent, reusing prepared inputs only for the same contract', async () => {
    const primary = fakeVersion('1');
    const same = fakeVersion('2', { scale: 2 });
    const { plane, traffic } = setup([primary, same]);
    await traffic.put('m', { split: { '1': 100 }, shadow: { version: '2', fraction: 1 } });
    const ex = plane.hold({ name: 'm' });
    await ex.infer([ok([1, 2]), ok([Number.NaN, 0]), ok([2, 2])]);
    ex.release();
    expect(same.calls).toHaveLength(0);
    ex.sent();
    await until(() => (traffic.summary('m').shadow?.compared ?? 0) === 2);
    expect(traffic.summary('m').shadow).toMatchObject({ version: '2', compared: 2, failed: 0, dropped: 0 });
    expect(same.calls[0]!.map((t) => Array.from(t))).toEqual([
      [1, 2],
      [2, 2],
    ]);
    // The outputs differ (×2): the same top "class" of one output, and a mean |Δ| of (3 + 4) / 2.
    expect(traffic.summary('m').shadow!.mean_abs_diff).toBeCloseTo(3.5, 6);
  });

  it('says when the shadow version is gone, once, and clears it when the version is back', async () => {
    const shadow = fakeVersion('2');
    const { plane, traffic, warnings, gone } = setup([fakeVersion('1'), shadow]);
    await traffic.put('m', { split: { '1': 100 }, shadow: { version: '2', fraction: 1 } });
    gone.add('2');
    for (let i = 0; i < 3; i++) {
      const ex = plane.hold({ name: 'm' });
      await ex.infer([ok([1, 1])]);
      ex.release();
      ex.sent();
    }
    expect(traffic.summary('m').shadow).toMatchObject({ dropped: 3, compared: 0 });
    expect(traffic.summary('m').problem).toBe("shadow version 2 is not available (model 'm' has no version 2); its copies are dropped until it is");
    expect(warnings).toEqual([['m', traffic.summary('m').problem]]);
    gone.delete('2');
    const ex = plane.hold({ name: 'm' });
    await ex.infer([ok([1, 1])]);
    ex.release();
    ex.sent();
    await until(() => traffic.summary('m').shadow?.compared === 1);
    expect(traffic.summary('m').problem).toBeNull();
  });

  it('explains in a bounded number of slots, evaluating MAX_BATCH_SIZE inputs at a time', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const v1 = fakeVersion('1', { gate });
    const { plane } = setup([v1], { explainConcurrency: 1, maxBatch: 2 });
    const ex = plane.hold({ name: 'm', version: '1' });
    const running = ex.explain([1, 2, 3, 4, 5], { patch: 4, acceptsPng: false, pngWidth: 256 });
    await until(() => v1.calls.length > 0);
    const refused = await ex.explain([1], { patch: 4, acceptsPng: false, pngWidth: 256 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ServingError);
    expect(refused).toMatchObject({ code: 'busy', reason: 'explanations-busy', retryAfterS: 1 });
    open();
    const done = await running;
    expect(done.body).toEqual({ outputs: [1, 2, 3, 4, 5] });
    expect(v1.calls.map((c) => c.length)).toEqual([2, 2, 1]);
    ex.release();
  });

  it('turns a model that cannot run into a serving error for the whole call', async () => {
    const { plane } = setup([fakeVersion('1', { fail: new QueueFullError(128) })]);
    const ex = plane.hold({ name: 'm', version: '1' });
    await expect(ex.infer([ok([1, 2])])).rejects.toMatchObject({ code: 'busy', reason: 'overloaded', retryAfterS: 1 });
    await expect(async () => plane.hold({ name: 'm', version: '9' })).rejects.toMatchObject({ code: 'not-found' });
    ex.release();
  });
});
