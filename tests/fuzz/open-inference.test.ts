/**
 * Property-based fuzzing of the Open Inference Protocol's infer route (fast-check, fixed
 * seed): valid binary and JSON requests for every kind, then a lying
 * Inference-Header-Content-Length, lying or hostile binary_data_size values, shapes and
 * datatypes, and mutated bytes. Every answer must be a 200 inference response or the
 * protocol's {"error"} with a 4xx status: never a 5xx, a crash or a hang.
 */
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../helpers/app.js';
import * as img from '../helpers/images.js';
import { serializeBytes } from '../helpers/open-inference.js';

const SEED = 20261124;

type Json = Record<string, unknown>;

interface Case {
  path: string;
  input: Json;
  blob: Buffer;
}

/** A valid request of each form: JPEG as BYTES, raw pixels as UINT8, iris rows as FP32. */
function validCases(): Case[] {
  const jpeg = img.photo('cat');
  return [
    { path: '/v2/models/cifar10/infer', input: { name: 'image', datatype: 'BYTES', shape: [1] }, blob: serializeBytes([jpeg]) },
    { path: '/v2/models/cifar10/infer', input: { name: 'image', datatype: 'UINT8', shape: [1, 32, 32, 3] }, blob: Buffer.alloc(32 * 32 * 3, 90) },
    { path: '/v2/models/iris/infer', input: { name: 'features', datatype: 'FP32', shape: [2, 4] }, blob: Buffer.from(new Float32Array([5.1, 3.5, 1.4, 0.2, 6.7, 3, 5.2, 2.3]).buffer) },
    { path: '/v2/models/wine-quality/versions/1/infer', input: { name: 'features', datatype: 'FP64', shape: [1, 11] }, blob: Buffer.from(new Float64Array([7.4, 0.7, 0, 1.9, 0.076, 11, 34, 0.9978, 3.51, 0.56, 9.4]).buffer) },
  ];
}

const hostileNumber = fc.oneof(
  fc.integer({ min: -5, max: 20_000 }),
  fc.constantFrom(-1, 0, 2 ** 31, 2 ** 32 + 3, 2 ** 53, Number.MAX_SAFE_INTEGER, 1.5, -0.5),
);
const hostileValue = fc.oneof(hostileNumber, fc.constantFrom('12', null, true, [], {}, '1e9'));

type Change =
  | { kind: 'size'; value: unknown }
  | { kind: 'headerLength'; value: string }
  | { kind: 'shape'; value: unknown }
  | { kind: 'datatype'; value: string }
  | { kind: 'bytes'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'append'; bytes: Uint8Array }
  | { kind: 'outputs'; value: unknown }
  | { kind: 'dataToo' };

const change: fc.Arbitrary<Change> = fc.oneof(
  fc.record({ kind: fc.constant('size' as const), value: hostileValue }),
  fc.record({
    kind: fc.constant('headerLength' as const),
    value: fc.oneof(hostileNumber.map(String), fc.constantFrom('', ' 12', '-3', '0x10', '1e3', 'abc', '99999999999999999999')),
  }),
  fc.record({ kind: fc.constant('shape' as const), value: fc.oneof(fc.array(hostileNumber, { maxLength: 9 }), fc.constantFrom('1', null, [[1]], [1 << 30, 1 << 30])) }),
  fc.record({ kind: fc.constant('datatype' as const), value: fc.constantFrom('BYTES', 'UINT8', 'FP32', 'FP64', 'FP16', 'INT64', 'UINT64', 'BOOL', 'INT8', 'fp32', '', 'STRING') }),
  fc.record({ kind: fc.constant('bytes' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ kind: fc.constant('outputs' as const), value: fc.constantFrom([{ name: 'label' }], [{ name: 'nope' }], [{ name: 'label', parameters: { binary_data: 'yes' } }], 'all', [{}]) }),
  fc.record({ kind: fc.constant('dataToo' as const) }),
);

/** The request body and header after applying `changes` to a valid case. */
function build(c: Case, changes: readonly Change[]): { body: Buffer; headers: Record<string, string> } {
  const input: Json = { ...c.input, parameters: { binary_data_size: c.blob.length } };
  const request: Json = { inputs: [input] };
  let headerLength: string | undefined;
  let body: Buffer | undefined;
  for (const ch of changes) {
    if (ch.kind === 'size') input.parameters = { binary_data_size: ch.value };
    else if (ch.kind === 'shape') input.shape = ch.value;
    else if (ch.kind === 'datatype') input.datatype = ch.value;
    else if (ch.kind === 'outputs') request.outputs = ch.value;
    else if (ch.kind === 'dataToo') input.data = [1];
    else if (ch.kind === 'headerLength') headerLength = ch.value;
  }
  const json = Buffer.from(JSON.stringify(request));
  body = Buffer.concat([json, c.blob]);
  for (const ch of changes) {
    if (ch.kind === 'bytes' && body.length > 0) body[ch.at % body.length] = ch.value;
    else if (ch.kind === 'truncate') body = body.subarray(0, ch.at % (body.length + 1));
    else if (ch.kind === 'append') body = Buffer.concat([body, ch.bytes]);
  }
  return { body, headers: { 'inference-header-content-length': headerLength ?? String(json.length) } };
}

describe('fuzzed Open Inference Protocol requests', () => {
  let app: FastifyInstance;
  const statuses = new Map<number, number>();
  beforeAll(async () => {
    app = await buildApp({ CACHE_MAX_ENTRIES: '0' });
  });
  afterAll(async () => {
    await app.close();
  });

  it('never answers 5xx: a 200 inference response or a 4xx {"error"}', { timeout: 600_000 }, async () => {
    const cases = validCases();
    const arbitrary = fc.record({ which: fc.integer({ min: 0, max: cases.length - 1 }), changes: fc.array(change, { minLength: 0, maxLength: 3 }), json: fc.boolean() });
    await fc.assert(
      fc.asyncProperty(arbitrary, async ({ which, changes, json }) => {
        const c = cases[which]!;
        const { body, headers } = build(c, changes);
        // Half the runs send the same header as plain JSON (no binary part, no header length).
        const sent = json ? { body: body.subarray(0, Number(headers['inference-header-content-length']) || 0), headers: {} } : { body, headers };
        const res = await app.inject({ method: 'POST', url: c.path, headers: sent.headers, payload: sent.body });
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        const where = `${c.path} ${JSON.stringify(changes)} json=${json}`;
        expect(res.statusCode, where).toBeLessThan(500);
        if (res.statusCode === 200) return;
        expect(res.statusCode, where).toBeGreaterThanOrEqual(400);
        expect(res.headers['content-type'], where).toMatch(/^application\/json/);
        const parsed = res.json<Json>();
        expect(Object.keys(parsed), where).toEqual(['error']);
        expect(typeof parsed.error, where).toBe('string');
      }),
      { seed: SEED, numRuns: 1500, endOnFailure: true },
    );
    console.log(`fuzz: open inference protocol: 1500 inputs, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
    // Both kinds of outcome were exercised.
    expect(statuses.get(200) ?? 0).toBeGreaterThan(0);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(100);
  });
});
