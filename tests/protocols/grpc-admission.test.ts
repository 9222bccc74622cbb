/**
 * The gRPC service keeps REST's guarantees, through a real port: the repository RPCs behind
 * the admin keys (under Triton's and MLServer's service names), rate limits shared with REST,
 * load shedding, deadlines (a call that expires in the batcher's queue never reaches the model)
 * and cancellation (a cancelled call frees its place in the queue), and the message size limit.
 */
import { Metadata, status } from '@grpc/grpc-js';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../helpers/app.js';
import { caller, inferenceClient, refusal, repositoryClient, tritonClient, withKey, type InferenceClient } from '../helpers/grpc.js';
import { freePort } from '../helpers/net.js';

const API_KEY = 'grpc-api-key-0123456789abcdef';
const ADMIN_KEY = 'grpc-admin-key-0123456789abcdef';
const IRIS = { model_name: 'iris', inputs: [{ name: 'features', datatype: 'FP64', shape: [1, 4], contents: { fp64_contents: [5.1, 3.5, 1.4, 0.2] } }] };

async function grpcApp(env: Record<string, string>): Promise<{ app: FastifyInstance; client: InferenceClient }> {
  const app = await buildApp({ GRPC_PORT: String(await freePort()), HOST: '127.0.0.1', CACHE_MAX_ENTRIES: '0', ...env });
  return { app, client: inferenceClient(app.grpcPort()) };
}

/** A metric's value summed over the series whose labels include `labels`. */
async function metric(app: FastifyInstance, name: string, labels: Record<string, string> = {}): Promise<number> {
  const values = (await app.metrics.registry.getSingleMetric(name)!.get()).values;
  return values.filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want) && (v as { metricName?: string }).metricName !== `${name}_count` && (v as { metricName?: string }).metricName !== `${name}_bucket`).reduce((n, v) => n + v.value, 0);
}
/** Inputs the model has run (the sum of its batch sizes). */
const inputsRun = (app: FastifyInstance, model: string): Promise<number> => metric(app, 'mlapi_inference_batch_size', { model });
const until = async (check: () => Promise<boolean>): Promise<void> => {
  while (!(await check())) await new Promise((r) => setTimeout(r, 20));
};

describe('gRPC repository RPCs', () => {
  let app: FastifyInstance;
  let client: InferenceClient;
  beforeAll(async () => {
    app = await buildApp({ GRPC_PORT: String(await freePort()), HOST: '127.0.0.1', API_KEYS: API_KEY, ADMIN_API_KEYS: ADMIN_KEY });
    client = tritonClient(app.grpcPort());
  });
  afterAll(async () => {
    client.close();
    await app.close();
  });

  it('list, unload and load models with an admin key, on both service names', async () => {
    const admin = caller(client, withKey(ADMIN_KEY));
    const index = await admin<{ models: { name: string; version: string; state: string; reason: string }[] }>('RepositoryIndex', {});
    expect(index.models).toEqual(expect.arrayContaining([{ name: 'cifar10', version: '1', state: 'READY', reason: '' }, { name: 'iris', version: '1', state: 'READY', reason: '' }]));

    expect(await admin('RepositoryModelUnload', { model_name: 'spam' })).toEqual({});
    const after = await admin<{ models: { name: string; state: string; reason: string }[] }>('RepositoryIndex', {});
    expect(after.models.filter((m) => m.name === 'spam')).toEqual([{ name: 'spam', version: '', state: 'UNAVAILABLE', reason: 'unloaded' }]);
    expect((await admin<{ models: { name: string }[] }>('RepositoryIndex', { ready: true })).models.map((m) => m.name)).not.toContain('spam');
    // The same state over REST.
    const rest = await request(app.server).post('/v2/repository/index').set('x-api-key', ADMIN_KEY).send({});
    expect((rest.body as { name: string; state: string }[]).find((m) => m.name === 'spam')).toMatchObject({ state: 'UNAVAILABLE' });
    expect(await refusal(caller(client, withKey(API_KEY))('ModelInfer', { model_name: 'spam', inputs: [{ name: 'text', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [Buffer.from('hi')] } }] }))).toMatchObject({
      code: status.UNAVAILABLE,
    });
    expect(await caller(client)('ModelReady', { name: 'spam' })).toEqual({ ready: false });
    expect(await admin('RepositoryModelLoad', { model_name: 'spam' })).toEqual({});
    expect(await caller(client, withKey(API_KEY))('ModelReady', { name: 'spam' })).toEqual({ ready: true });

    // MLServer's service name for the same RPCs: a client made from proto/model_repository.proto.
    const mlserver = repositoryClient(app.grpcPort());
    try {
      const listed = await caller(mlserver, withKey(ADMIN_KEY))<{ models: { name: string }[] }>('RepositoryIndex', { ready: true });
      expect(listed.models.map((m) => m.name).sort()).toEqual(['cifar10', 'iris', 'spam', 'wine-quality']);
    } finally {
      mlserver.close();
    }
  });

  it('refuses without an admin key, and names what is wrong', async () => {
    expect(await refusal(caller(client)('RepositoryIndex', {}))).toMatchObject({ code: status.UNAUTHENTICATED, details: expect.stringMatching(/admin API key is required/) });
    expect(await refusal(caller(client, withKey('not-a-key-at-all-0000'))('RepositoryModelUnload', { model_name: 'iris' }))).toMatchObject({ code: status.UNAUTHENTICATED });
    expect(await refusal(caller(client, withKey(API_KEY))('RepositoryModelUnload', { model_name: 'iris' }))).toMatchObject({ code: status.PERMISSION_DENIED, details: expect.stringMatching(/admin API key/) });
    const admin = caller(client, withKey(ADMIN_KEY));
    expect(await refusal(admin('RepositoryModelLoad', { model_name: 'nope' }))).toMatchObject({ code: status.NOT_FOUND });
    expect(await refusal(admin('RepositoryModelLoad', { model_name: 'iris', parameters: { config: { string_param: '{}' } } }))).toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringMatching(/load parameters are not supported \(got 'config'\)/),
    });
    // Nothing was unloaded by the refused calls.
    expect(await caller(client, withKey(API_KEY))('ModelReady', { name: 'iris' })).toEqual({ ready: true });
  });

  it('answers PERMISSION_DENIED when no admin keys are configured', async () => {
    const open = await buildApp({ GRPC_PORT: String(await freePort()), HOST: '127.0.0.1' });
    const openClient = tritonClient(open.grpcPort());
    try {
      expect(await refusal(caller(openClient)('RepositoryIndex', {}))).toMatchObject({ code: status.PERMISSION_DENIED, details: expect.stringMatching(/ADMIN_API_KEYS/) });
    } finally {
      openClient.close();
      await open.close();
    }
  });
});

describe('gRPC rate limits and load shedding', () => {
  it('spends the same budget as REST and answers RESOURCE_EXHAUSTED with retry-after; probes are not limited', async () => {
    const { app, client } = await grpcApp({ RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW: '1 minute' });
    try {
      const call = caller(client);
      await call('ModelInfer', IRIS);
      await call('ModelMetadata', { name: 'iris' });
      expect((await request(app.server).get('/v2/models/iris')).status).toBe(200);
      const refused = await refusal(call('ModelInfer', IRIS));
      expect(refused).toMatchObject({ code: status.RESOURCE_EXHAUSTED, details: 'more than 3 requests in 1 minute; retry later' });
      expect(Number(refused.metadata['retry-after'])).toBeGreaterThanOrEqual(1);
      expect((await request(app.server).get('/v2/models/iris')).status).toBe(429);
      expect(await call('ServerLive', {})).toEqual({ live: true });
      expect(await call('ServerReady', {})).toEqual({ ready: true });
    } finally {
      client.close();
      await app.close();
    }
  });

  it('sheds ModelInfer with UNAVAILABLE and retry-after past the memory limit; health and metadata answer', async () => {
    const { app, client } = await grpcApp({ MAX_HEAP_USED_BYTES: '1' });
    try {
      const call = caller(client);
      // Until under-pressure has taken its first sample.
      let refused: Awaited<ReturnType<typeof refusal>> | undefined;
      while (!refused) refused = await call('ModelInfer', IRIS).then(() => undefined, () => refusal(call('ModelInfer', IRIS)));
      expect(refused).toMatchObject({ code: status.UNAVAILABLE, details: 'the server is overloaded; retry shortly', metadata: { 'retry-after': '2' } });
      expect(await call('ServerReady', {})).toEqual({ ready: true });
      expect(await call('ModelMetadata', { name: 'iris' })).toMatchObject({ name: 'iris' });
    } finally {
      client.close();
      await app.close();
    }
  });
});

describe('gRPC deadlines, cancellation and message size', () => {
  let app: FastifyInstance;
  let client: InferenceClient;
  // Every input waits a second in the queue for a batch to fill, and one input fills the queue.
  beforeAll(async () => ({ app, client } = await grpcApp({ MAX_BATCH_DELAY_MS: '1000', MAX_BATCH_SIZE: '32', MAX_QUEUE: '1', MAX_BATCH_UPLOAD_BYTES: '100000' })));
  afterAll(async () => {
    client.close();
    await app.close();
  });

  it('a call whose deadline passes in the queue never reaches the model', async () => {
    const before = await inputsRun(app, 'iris');
    expect(await refusal(caller(client, new Metadata(), { deadline: Date.now() + 200 })('ModelInfer', IRIS))).toMatchObject({ code: status.DEADLINE_EXCEEDED });
    // A call after it is batched alone: had the expired input stayed queued, the two would run together.
    await caller(client)('ModelInfer', IRIS);
    expect(await inputsRun(app, 'iris')).toBe(before + 1);
    // The client's own timer ends the call; the server counts it when its handler lets go,
    // which on a loaded machine can come a little later.
    const expired = (): Promise<number> => metric(app, 'mlapi_http_requests_total', { protocol: 'grpc', status_code: String(status.DEADLINE_EXCEEDED) });
    await until(async () => (await expired()) >= 1);
    expect(await expired()).toBe(1);
  });

  it('a cancelled call frees its place in the queue', async () => {
    const before = await inputsRun(app, 'iris');
    const pending = client.ModelInfer!(IRIS, new Metadata(), {}, () => {});
    await until(async () => (await metric(app, 'mlapi_inference_queue_depth')) === 1);
    pending.cancel();
    await until(async () => (await metric(app, 'mlapi_inference_queue_depth')) === 0);
    // The queue holds one input: this call is taken only because the cancelled one left it.
    await caller(client)('ModelInfer', IRIS);
    expect(await inputsRun(app, 'iris')).toBe(before + 1);
  });

  it('refuses a message over the body limit with RESOURCE_EXHAUSTED', async () => {
    const big = { model_name: 'cifar10', inputs: [{ name: 'image', datatype: 'UINT8', shape: [100, 32, 32, 3] }], raw_input_contents: [Buffer.alloc(100 * 3072)] };
    expect(await refusal(caller(client)('ModelInfer', big))).toMatchObject({ code: status.RESOURCE_EXHAUSTED, details: expect.stringMatching(/larger than max/i) });
    expect(await caller(client)('ServerLive', {})).toEqual({ live: true });
  });
});

describe('gRPC over the same dataplane: cache, graceful shutdown', () => {
  it('answers a repeated input from the prediction cache, as REST does', async () => {
    const { app, client } = await grpcApp({ CACHE_MAX_ENTRIES: '100' });
    try {
      const hits = (): Promise<number> => metric(app, 'mlapi_cache_lookups_total', { result: 'hit' });
      const before = await hits();
      const first = await caller(client)<{ raw_output_contents: Buffer[] }>('ModelInfer', IRIS);
      const again = await caller(client)<{ raw_output_contents: Buffer[] }>('ModelInfer', IRIS);
      expect(await hits()).toBe(before + 1);
      expect(again.raw_output_contents).toEqual(first.raw_output_contents);
    } finally {
      client.close();
      await app.close();
    }
  });

  it('drains at shutdown: a call in the queue is answered, later calls are refused', async () => {
    const { app, client } = await grpcApp({ MAX_BATCH_DELAY_MS: '1000', MAX_BATCH_SIZE: '32' });
    try {
      const inFlight = caller(client)('ModelInfer', IRIS);
      await until(async () => (await metric(app, 'mlapi_inference_queue_depth')) === 1);
      const closing = app.close();
      expect(await inFlight).toMatchObject({ model_name: 'iris' });
      await closing;
      expect((await refusal(caller(client)('ServerLive', {}))).code).toBe(status.UNAVAILABLE);
    } finally {
      client.close();
      await app.close();
    }
  });
});
