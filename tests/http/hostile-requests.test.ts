/** What a hostile client found, the smaller classes: content codings, extreme traffic weights, /v2's error wording, pipelined garbage. Real HTTP on the real app. */
import { connect } from 'node:net';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, ROOT, SHIPPED_REPOSITORY } from '../helpers/app.js';
import { TempRepository } from '../helpers/repository.js';

const ADMIN = 'hostile-admin-key-0123456789';
const IRIS = JSON.stringify({ features: [6.7, 3.0, 5.2, 2.3] });

/** Write raw bytes on one connection; everything the server sent until it closed. */
function rawExchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let out = '';
    socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => resolve(out));
    socket.setTimeout(30_000, () => socket.destroy());
    socket.write(bytes);
  });
}

describe('hostile requests, the smaller classes', () => {
  let app: FastifyInstance;
  let base: string;
  let port: number;
  beforeAll(async () => {
    app = await buildApp({ ADMIN_API_KEYS: ADMIN, CACHE_MAX_ENTRIES: '0' });
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as { port: number }).port;
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    await app.close();
  });

  it('refuses a Content-Encoding other than identity with 415, on the native API and on /v2', async () => {
    for (const encoding of ['gzip', 'br', 'deflate, gzip', 'x-unknown']) {
      const r = await fetch(`${base}/v1/models/iris/predict`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': encoding }, body: IRIS });
      expect(r.status, encoding).toBe(415);
      expect(await r.json()).toMatchObject({ type: 'urn:ml-inference-api:problem:unsupported-content-encoding', detail: `Content-Encoding '${encoding}' is not accepted: send the body uncompressed (identity)` });
    }
    const v2 = await fetch(`${base}/v2/models/iris/infer`, { method: 'POST', headers: { 'content-encoding': 'gzip' }, body: '{}' });
    expect(v2.status).toBe(415);
    expect(await v2.json()).toEqual({ error: "Content-Encoding 'gzip' is not accepted: send the body uncompressed (identity)" });
    const identity = await fetch(`${base}/v1/models/iris/predict`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'identity' }, body: IRIS });
    expect(identity.status).toBe(200);
  });

  it("names the content type that was sent when /v2 cannot read a body as the protocol's JSON", async () => {
    const form = new FormData();
    form.append('file', new Blob([readFileSync(join(ROOT, 'tests', 'fixtures', 'images', 'truck.jpg'))], { type: 'image/jpeg' }), 'truck.jpg');
    const r = await fetch(`${base}/v2/models/cifar10/infer`, { method: 'POST', body: form });
    expect(r.status).toBe(400);
    const { error } = (await r.json()) as { error: string };
    expect(error).toMatch(/sent as 'multipart\/form-data; boundary=/);
    expect(error).toContain('POST /v1/models/{name}/predict');
    expect(error).not.toMatch(/content-type is set to 'application\/json'/);
  });

  it('answers a complete request pipelined before bytes that do not parse, then closes the connection', async () => {
    const request = `POST /v1/models/iris/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${IRIS.length}\r\n\r\n${IRIS}`;
    const out = await rawExchange(port, `${request}GARBAGE GARBAGE\r\n\r\n`);
    const answers = [...out.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => Number(m[1]));
    // node:http ends the socket once that answer is written: no 400 can follow it.
    expect(answers).toEqual([200]);
    expect(out).toContain('"class_label":"virginica"');
    // Garbage alone is refused as before.
    expect(await rawExchange(port, 'NOT HTTP AT ALL\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 Bad Request/);
  });
});

describe('traffic weights at their bounds', () => {
  const repo = new TempRepository();
  let app: FastifyInstance;
  beforeAll(async () => {
    repo.publish('cifar10', '1');
    cpSync(join(SHIPPED_REPOSITORY, 'iris', '1'), join(repo.root, 'iris', '1'), { recursive: true });
    cpSync(join(SHIPPED_REPOSITORY, 'iris', '1'), join(repo.root, 'iris', '2'), { recursive: true });
    repo.config('iris', { version_policy: { all: {} } });
    app = await buildApp({ MODEL_REPOSITORY: repo.root, ADMIN_API_KEYS: ADMIN, CACHE_MAX_ENTRIES: '0', MODEL_POLL_INTERVAL_S: '0' });
  });
  afterAll(async () => {
    await app?.close();
    repo.dispose();
  });
  const put = (payload: string) => app.inject({ method: 'PUT', url: '/v1/models/iris/traffic', headers: { 'content-type': 'application/json', 'x-api-key': ADMIN }, payload });
  const shares = async (n: number): Promise<Record<string, number>> => {
    const seen: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const v = String((await app.inject({ method: 'POST', url: '/v1/models/iris/predict', headers: { 'content-type': 'application/json' }, payload: IRIS })).headers['x-model-version']);
      seen[v] = (seen[v] ?? 0) + 1;
    }
    return seen;
  };

  it('refuses a weight that is not finite or over 1,000,000, and leaves the file as it was', async () => {
    for (const weight of ['1e308', '1000001', '-1']) {
      const r = await put(`{"split": {"1": ${weight}, "2": 1}}`);
      expect(r.statusCode, weight).toBe(400);
      expect(r.json().detail).toMatch(/at most 1000000|must not be negative/);
    }
    expect(readFileSync(join(repo.root, 'iris', 'config.json'), 'utf8')).not.toMatch(/split/);
  });

  it('splits two weights at the bound, and a tiny one against the bound, exactly', async () => {
    expect((await put('{"split": {"1": 1000000, "2": 1000000}}')).statusCode).toBe(200);
    expect(await shares(40)).toEqual({ '1': 20, '2': 20 });
    expect((await put('{"split": {"1": 1000000, "2": 250000}}')).statusCode).toBe(200);
    expect(await shares(50)).toEqual({ '1': 40, '2': 10 });
    expect((await put('{"split": {"1": 1000000, "2": 1e-300}}')).statusCode).toBe(200);
    expect(await shares(20)).toEqual({ '1': 20 });
  });
});
