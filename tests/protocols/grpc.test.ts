/**
 * The Open Inference Protocol over gRPC, through a real port with a @grpc/grpc-js client made
 * from the official .proto: every core RPC, for image, tabular and text models, typed and raw
 * contents, and answers equal to the REST /v2 answers for the same inputs.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { credentials, loadPackageDefinition, Metadata, status, type Client, type ClientDuplexStream, type ClientReadableStream } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import sharp from 'sharp';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { GRPC_LOADER_OPTIONS } from '../../src/protocols/open-inference/grpc-tensors.js';
import { buildApp, ROOT } from '../helpers/app.js';
import { caller, healthClient, inferenceClient, refusal, type InferenceClient } from '../helpers/grpc.js';
import { freePort } from '../helpers/net.js';
import * as img from '../helpers/images.js';
import { deserializeBytes, serializeBytes } from '../helpers/open-inference.js';


interface Answer {
  model_name: string;
  model_version: string;
  id: string;
  outputs: { name: string; datatype: string; shape: string[] }[];
  raw_output_contents: Buffer[];
}

const floats = (raw: Buffer): number[] => Array.from(new Float32Array(Uint8Array.from(raw).buffer));
const strings = deserializeBytes;
const lengthPrefixed = (...items: Buffer[]): Buffer => serializeBytes(items);

describe('Open Inference Protocol over gRPC', () => {
  let app: FastifyInstance;
  let client: InferenceClient;
  let call: ReturnType<typeof caller>;
  beforeAll(async () => {
    app = await buildApp({ GRPC_PORT: String(await freePort()), HOST: '127.0.0.1', MAX_BATCH_FILES: '8', CACHE_MAX_ENTRIES: '0' });
    client = inferenceClient(app.grpcPort());
    call = caller(client);
  });
  afterAll(async () => {
    client.close();
    await app.close();
  });

  it('answers liveness, readiness and metadata for the server and each kind of model', async () => {
    expect(await call('ServerLive', {})).toEqual({ live: true });
    expect(await call('ServerReady', {})).toEqual({ ready: true });
    expect(await call('ServerMetadata', {})).toMatchObject({ name: 'ml-inference-api', extensions: ['model_repository'] });
    expect(await call('ModelReady', { name: 'cifar10' })).toEqual({ ready: true });
    expect(await call('ModelReady', { name: 'cifar10', version: '1' })).toEqual({ ready: true });
    expect(await call('ModelMetadata', { name: 'cifar10' })).toMatchObject({
      name: 'cifar10',
      versions: ['1'],
      platform: 'onnx_onnxv1',
      inputs: [{ name: 'image', datatype: 'BYTES', shape: ['-1'] }],
      outputs: [
        { name: 'probabilities', datatype: 'FP32', shape: ['-1', '10'] },
        { name: 'label', datatype: 'BYTES', shape: ['-1'] },
      ],
    });
    for (const name of ['iris', 'spam']) expect(await call('ModelMetadata', { name })).toMatchObject({ name, versions: ['1'] });
    expect(await refusal(call('ModelReady', { name: 'nope' }))).toMatchObject({ code: status.NOT_FOUND });
    expect(await refusal(call('ModelMetadata', { name: 'cifar10', version: '9' }))).toMatchObject({ code: status.NOT_FOUND });
  });

  it('images as raw UINT8 pixels, raw BYTES and typed BYTES answer what REST /v2 answers', async () => {
    const photos = (['cat', 'ship', 'truck'] as const).map((l) => img.photo(l));
    const pixels = await Promise.all(photos.map((p) => sharp(p).removeAlpha().raw().toBuffer()));
    const rest = await request(app.server)
      .post('/v2/models/cifar10/infer')
      .send({ inputs: [{ name: 'image', datatype: 'UINT8', shape: [3, 32, 32, 3], data: pixels.flatMap((p) => Array.from(p)) }] });
    expect(rest.status).toBe(200);
    const restProbabilities = (rest.body as { outputs: { name: string; data: number[] }[] }).outputs.find((o) => o.name === 'probabilities')!.data;
    const restLabels = (rest.body as { outputs: { name: string; data: string[] }[] }).outputs.find((o) => o.name === 'label')!.data;

    const raw = await call<Answer>('ModelInfer', { model_name: 'cifar10', id: 'pixels-1', inputs: [{ name: 'image', datatype: 'UINT8', shape: [3, 32, 32, 3] }], raw_input_contents: [Buffer.concat(pixels)] });
    expect(raw).toMatchObject({ model_name: 'cifar10', model_version: '1', id: 'pixels-1', outputs: [{ name: 'probabilities', datatype: 'FP32', shape: ['3', '10'] }, { name: 'label', datatype: 'BYTES', shape: ['3'] }] });
    floats(raw.raw_output_contents[0]!).forEach((p, i) => expect(Math.abs(p - restProbabilities[i]!)).toBeLessThanOrEqual(1e-6));
    expect(strings(raw.raw_output_contents[1]!)).toEqual(restLabels);

    const files = await call<Answer>('ModelInfer', { model_name: 'cifar10', model_version: '1', inputs: [{ name: 'image', datatype: 'BYTES', shape: [3] }], raw_input_contents: [lengthPrefixed(...photos)] });
    const typed = await call<Answer>('ModelInfer', { model_name: 'cifar10', inputs: [{ name: 'image', datatype: 'BYTES', shape: [3], contents: { bytes_contents: photos } }], outputs: [{ name: 'label' }] });
    expect(strings(files.raw_output_contents[1]!)).toEqual(restLabels);
    expect(typed.outputs.map((o) => o.name)).toEqual(['label']);
    expect(strings(typed.raw_output_contents[0]!)).toEqual(restLabels);
    floats(files.raw_output_contents[0]!).forEach((p, i) => expect(Math.abs(p - restProbabilities[i]!)).toBeLessThanOrEqual(1e-6));
  });

  it('tabular rows and texts, typed and raw', async () => {
    const rows = [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3];
    const rest = await request(app.server).post('/v2/models/iris/infer').send({ inputs: [{ name: 'features', datatype: 'FP64', shape: [2, 4], data: rows }] });
    const restLabels = (rest.body as { outputs: { name: string; data: string[] }[] }).outputs.find((o) => o.name === 'label')!.data;
    const typed = await call<Answer>('ModelInfer', { model_name: 'iris', inputs: [{ name: 'features', datatype: 'FP64', shape: [2, 4], contents: { fp64_contents: rows } }], outputs: [{ name: 'label' }] });
    const raw = await call<Answer>('ModelInfer', { model_name: 'iris', inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 4] }], raw_input_contents: [Buffer.from(Float32Array.from(rows).buffer)], outputs: [{ name: 'label' }] });
    expect(strings(typed.raw_output_contents[0]!)).toEqual(restLabels);
    expect(strings(raw.raw_output_contents[0]!)).toEqual(restLabels);

    const texts = ['Limited offer: a FREE prize is waiting, click here', 'Minutes of Tuesday\'s meeting attached; see you at the review'];
    const spamRest = await request(app.server).post('/v2/models/spam/infer').send({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [2], data: texts }] });
    const spamLabels = (spamRest.body as { outputs: { name: string; data: string[] }[] }).outputs.find((o) => o.name === 'label')!.data;
    const spam = await call<Answer>('ModelInfer', { model_name: 'spam', inputs: [{ name: 'text', datatype: 'BYTES', shape: [2], contents: { bytes_contents: texts.map((t) => Buffer.from(t)) } }], outputs: [{ name: 'label' }] });
    expect(strings(spam.raw_output_contents[0]!)).toEqual(spamLabels);
    const spamRaw = await call<Answer>('ModelInfer', { model_name: 'spam', model_version: '1', inputs: [{ name: 'text', datatype: 'BYTES', shape: [2] }], raw_input_contents: [lengthPrefixed(...texts.map((t) => Buffer.from(t)))], outputs: [{ name: 'label' }] });
    expect(strings(spamRaw.raw_output_contents[0]!)).toEqual(spamLabels);
  });

  it('refuses with the status the domain code maps to', async () => {
    const pixels = { name: 'image', datatype: 'UINT8', shape: [1, 32, 32, 3] };
    expect(await refusal(call('ModelInfer', { model_name: 'nope', inputs: [pixels], raw_input_contents: [Buffer.alloc(3072)] }))).toMatchObject({ code: status.NOT_FOUND });
    expect(await refusal(call('ModelInfer', { model_name: 'cifar10', model_version: '9', inputs: [pixels], raw_input_contents: [Buffer.alloc(3072)] }))).toMatchObject({ code: status.NOT_FOUND, details: expect.stringMatching(/version/) });
    expect(await refusal(call('ModelInfer', { model_name: 'cifar10', inputs: [pixels], raw_input_contents: [Buffer.alloc(3071)] }))).toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(/needs 3072/) });
    expect(await refusal(call('ModelInfer', { model_name: 'cifar10', inputs: [{ ...pixels, name: 'pixels' }], raw_input_contents: [Buffer.alloc(3072)] }))).toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(/unknown input 'pixels'/) });
    expect(await refusal(call('ModelInfer', { model_name: 'cifar10', inputs: [{ ...pixels, shape: [9, 32, 32, 3] }], raw_input_contents: [Buffer.alloc(9 * 3072)] }))).toMatchObject({ code: status.RESOURCE_EXHAUSTED, details: expect.stringMatching(/MAX_BATCH_FILES/) });
    expect(await refusal(call('ModelInfer', { model_name: 'cifar10', inputs: [{ name: 'image', datatype: 'BYTES', shape: [1] }], raw_input_contents: [Buffer.from([7, 0])] }))).toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(/truncated 4-byte length prefix/) });
    expect(await refusal(call('ModelInfer', { model_name: 'cifar10', inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [Buffer.from('not an image')] } }] }))).toMatchObject({ code: status.INVALID_ARGUMENT });
  });

  it('counts calls in the request metrics with protocol="grpc" and the gRPC status code', async () => {
    const count = async (code: number): Promise<number> => {
      const metric = await app.metrics.registry.getSingleMetric('mlapi_http_requests_total')!.get();
      return metric.values.filter((v) => v.labels.protocol === 'grpc' && v.labels.route === '/inference.GRPCInferenceService/ModelInfer' && v.labels.status_code === String(code)).reduce((n, v) => n + v.value, 0);
    };
    const [ok, notFound] = [await count(status.OK), await count(status.NOT_FOUND)];
    await call('ModelInfer', { model_name: 'iris', inputs: [{ name: 'features', datatype: 'FP64', shape: [1, 4], contents: { fp64_contents: [5.1, 3.5, 1.4, 0.2] } }] });
    await refusal(call('ModelInfer', { model_name: 'nope', inputs: [{ name: 'x', datatype: 'FP64', shape: [1], contents: { fp64_contents: [1] } }] }));
    expect(await count(status.OK)).toBe(ok + 1);
    expect(await count(status.NOT_FOUND)).toBe(notFound + 1);
  });
});

describe('Open Inference Protocol over gRPC, with API keys', () => {
  it('needs a key in the metadata (authorization: Bearer, or x-api-key) for inference', async () => {
    const app = await buildApp({ GRPC_PORT: String(await freePort()), HOST: '127.0.0.1', API_KEYS: 'grpc-test-key-0123456789abcdef' });
    const client = inferenceClient(app.grpcPort());
    try {
      const message = { model_name: 'iris', inputs: [{ name: 'features', datatype: 'FP64', shape: [1, 4], contents: { fp64_contents: [5.1, 3.5, 1.4, 0.2] } }] };
      expect(await refusal(caller(client)('ModelInfer', message))).toMatchObject({ code: status.UNAUTHENTICATED, details: expect.stringMatching(/API key is required/) });
      const wrong = new Metadata();
      wrong.set('authorization', 'Bearer nope');
      expect(await refusal(caller(client, wrong)('ModelInfer', message))).toMatchObject({ code: status.UNAUTHENTICATED, details: 'the API key is not valid' });
      for (const [key, value] of [['authorization', 'Bearer grpc-test-key-0123456789abcdef'], ['x-api-key', 'grpc-test-key-0123456789abcdef']]) {
        const metadata = new Metadata();
        metadata.set(key!, value!);
        expect(await caller(client, metadata)<Answer>('ModelInfer', message)).toMatchObject({ model_name: 'iris' });
      }
      // Health and metadata stay open, as over REST.
      expect(await caller(client)('ServerLive', {})).toEqual({ live: true });
    } finally {
      client.close();
      await app.close();
    }
  });
});

describe('standard gRPC services: health and reflection', () => {
  const ADMIN = 'grpc-admin-key-0123456789abcdef';
  let app: FastifyInstance;
  let address: string;
  beforeAll(async () => {
    app = await buildApp({ GRPC_PORT: String(await freePort()), HOST: '127.0.0.1', ADMIN_API_KEYS: ADMIN });
    address = `127.0.0.1:${app.grpcPort()}`;
  });
  afterAll(async () => {
    await app.close();
  });

  const { grpc: standard } = loadPackageDefinition(loadSync(join(ROOT, 'node_modules', '@grpc', 'reflection', 'build', 'proto', 'grpc', 'reflection', 'v1', 'reflection.proto'), GRPC_LOADER_OPTIONS)) as unknown as {
    grpc: { reflection: { v1: { ServerReflection: new (a: string, c: ReturnType<typeof credentials.createInsecure>) => Client & { ServerReflectionInfo: () => ClientDuplexStream<object, { list_services_response?: { service: { name: string }[] } }> } } } };
  };

  it('Check: the empty name is the server, a model name that model; others are NOT_FOUND', async () => {
    const health = healthClient(app.grpcPort());
    try {
      const check = caller(health);
      expect(await check('Check', { service: '' })).toEqual({ status: 'SERVING' });
      expect(await check('Check', { service: 'cifar10' })).toEqual({ status: 'SERVING' });
      expect(await refusal(check('Check', { service: 'no-such-model' }))).toMatchObject({ code: status.NOT_FOUND });
    } finally {
      health.close();
    }
  });

  it('Watch follows a model through an unload and a load', async () => {
    const health = healthClient(app.grpcPort()) as unknown as Client & { Watch: (r: object) => ClientReadableStream<{ status: string }> };
    const seen: string[] = [];
    const stream = health.Watch({ service: 'iris' });
    const waitFor = (wanted: string): Promise<void> =>
      new Promise((resolve, reject) => {
        if (seen.at(-1) === wanted) return resolve();
        const onData = (): void => {
          if (seen.at(-1) === wanted) {
            stream.off('data', onData);
            resolve();
          }
        };
        stream.on('data', onData);
        stream.once('error', reject);
      });
    stream.on('data', (m: { status: string }) => seen.push(m.status));
    stream.on('error', () => {});
    try {
      await waitFor('SERVING');
      const admin = (action: string) => request(app.server).post(`/v2/repository/models/iris/${action}`).set('authorization', `Bearer ${ADMIN}`).send({});
      expect((await admin('unload')).status).toBe(200);
      await waitFor('NOT_SERVING');
      expect((await admin('load')).status).toBe(200);
      await waitFor('SERVING');
      expect(seen.filter((s, i) => s !== seen[i - 1])).toEqual(['SERVING', 'NOT_SERVING', 'SERVING']);
    } finally {
      stream.cancel();
      health.close();
    }
  });

  it('reflection lists the services, so grpcurl needs no local .proto', async () => {
    const reflection = new standard.reflection.v1.ServerReflection(address, credentials.createInsecure());
    try {
      const stream = reflection.ServerReflectionInfo();
      const answer = new Promise<{ list_services_response?: { service: { name: string }[] } }>((resolve, reject) => {
        stream.once('data', resolve);
        stream.once('error', reject);
      });
      stream.write({ list_services: '' });
      const names = ((await answer).list_services_response?.service ?? []).map((s) => s.name);
      stream.end();
      expect(names).toEqual(expect.arrayContaining(['inference.GRPCInferenceService', 'inference.model_repository.ModelRepositoryService', 'grpc.health.v1.Health']));
    } finally {
      reflection.close();
    }
  });

  it('a Go client (buf curl) describes and calls every service through reflection alone', async () => {
    // Go's descriptor checks are protoc's: they refuse a file whose map entries are misnamed.
    const bufCurl = async (path: string, body: object): Promise<unknown> => {
      const run = promisify(execFile)(join(ROOT, 'node_modules', '.bin', 'buf'), ['curl', '--protocol', 'grpc', '--http2-prior-knowledge', '-H', `authorization: Bearer ${ADMIN}`, '-d', JSON.stringify(body), `http://${address}/${path}`]);
      return JSON.parse((await run).stdout) as unknown;
    };
    expect(await bufCurl('inference.GRPCInferenceService/ModelInfer', { model_name: 'iris', inputs: [{ name: 'features', datatype: 'FP64', shape: [1, 4], contents: { fp64_contents: [5.1, 3.5, 1.4, 0.2] } }] })).toMatchObject({
      modelName: 'iris',
      outputs: [{ name: 'probabilities' }, { name: 'label' }],
    });
    expect(await bufCurl('inference.model_repository.ModelRepositoryService/RepositoryIndex', { ready: true })).toMatchObject({ models: expect.arrayContaining([{ name: 'iris', version: '1', state: 'READY' }]) });
    expect(await bufCurl('grpc.health.v1.Health/Check', { service: 'iris' })).toEqual({ status: 'SERVING' });
  }, 60_000);
});
