/**
 * A model kind defined here, in the test, and served without any file under src/ knowing it:
 * a "sum" kind that takes {"values": [..]} and answers their sum through a tiny ONNX model
 * (one MatMul with a column of ones). It goes through the native routes, the Open Inference
 * Protocol (JSON and binary), explain, the prediction cache and a traffic split.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import onnxProto from 'onnx-proto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { KindModel, ModelKind, NativeBody } from '../../src/kinds/kind.js';
import { TensorError } from '../../src/protocols/open-inference/tensors.js';
import { modelRefSchema } from '../../src/schemas/predict.js';
import { invalidInput, ServingError, type Outcome } from '../../src/serving/errors.js';
import { buildApp } from '../helpers/app.js';
import { encodeModel } from '../helpers/onnx-models.js';
import { InferInput, V2Client } from '../helpers/open-inference.js';

const { onnx } = onnxProto;
const SIZE = 4;
const ADMIN = 'sum-kind-admin-key-0123456789';

/** values [batch, SIZE] × ones [SIZE, 1] = sum [batch, 1]. */
function sumModel(): Buffer {
  const dims = (d: (number | string)[]) => ({ dim: d.map((x) => (typeof x === 'string' ? { dimParam: x } : { dimValue: x })) });
  const float = onnx.TensorProto.DataType.FLOAT;
  return encodeModel({
    input: { name: 'values', type: { tensorType: { elemType: float, shape: dims(['batch', SIZE]) } } },
    output: { name: 'sum', type: { tensorType: { elemType: float, shape: dims(['batch', 1]) } } },
    initializers: [{ name: 'ones', dims: [SIZE, 1], dataType: float, floatData: new Array(SIZE).fill(1) }],
    nodes: [{ opType: 'MatMul', input: ['values', 'ones'], output: ['sum'], name: 'sum' }],
  });
}

const sumMetadataSchema = z.object({ kind: z.literal('sum'), size: z.number().int().min(1).max(64) });
type SumMetadata = z.infer<typeof sumMetadataSchema>;

const sumAnswerSchema = z.object({ sum: z.number(), cached: z.boolean(), warnings: z.array(z.string()).optional(), model: modelRefSchema, latency_ms: z.number() });
const sumExplanationSchema = z.object({ method: z.literal('leave-one-out'), contributions: z.array(z.number()), evaluations: z.number(), model: modelRefSchema, latency_ms: z.number() });

function parseValues(raw: unknown, size: number): number[] {
  if (!Array.isArray(raw) || raw.length !== size || !raw.every((v) => typeof v === 'number' && Number.isFinite(v))) throw invalidInput('invalid-values', `values must be ${size} finite numbers`);
  return raw as number[];
}

function jsonBody(body: NativeBody): Record<string, unknown> {
  if (body.type !== 'json') throw new ServingError('unsupported-media', 'unsupported-media-type', 'a sum model takes application/json');
  return body.value as Record<string, unknown>;
}

const sumKind: ModelKind<SumMetadata> = {
  names: ['sum'],
  parseMetadata: (raw) => sumMetadataSchema.parse(raw),
  bind(metadata): KindModel<number[]> {
    const n = metadata.size;
    return {
      kind: 'sum',
      labels: [],
      signature: { inputShape: [n], outputs: 1 },
      runtime: { only: { runtime: 'onnx', why: 'a sum model is ONNX' } },
      contract: `sum of ${n}`,
      sampleInput: async () => new Float32Array(n).fill(1),
      checkOutput(output) {
        if (Math.abs(output[0]! - n) > 1e-4) throw new Error(`${n} ones do not sum to ${output[0]}`);
      },
      describe: () => ({ kind: 'sum', size: n }),
      readSingle: async (body) => parseValues(jsonBody(body).values, n),
      async readBatch(body) {
        const rows = jsonBody(body).instances;
        if (!Array.isArray(rows)) throw invalidInput('invalid-body', 'send {"instances": [[..], ..]}');
        return rows.map((row: unknown) => {
          try {
            return { filename: null, input: { ok: true, value: parseValues(row, n) } };
          } catch (err) {
            return { filename: null, input: { ok: false, error: err as ServingError } };
          }
        });
      },
      inspect: (values) => ({ key: { bytes: Buffer.from(JSON.stringify(values)) }, warnings: [], prepare: async () => ({ tensor: Float32Array.from(values) }) }),
      answer: (output) => ({ sum: output[0]! }),
      summarize: (output) => ({ value: output[0]! }),
      openInference: {
        inputs: [{ name: 'values', datatype: 'FP32', shape: [-1, n] }],
        outputs: [{ name: 'sum', datatype: 'FP32', shape: [-1] }],
        properties: { size: String(n) },
        items: 'rows',
        decode(input): Outcome<number[]>[] {
          if (input.datatype !== 'FP32' || input.shape.length !== 2 || input.shape[1] !== n) throw new TensorError(`send FP32 [N, ${n}]`);
          return Array.from({ length: input.shape[0]! }, (_, i) => ({ ok: true, value: Array.from(input.values.subarray(i * n, (i + 1) * n)) }));
        },
        encode: (rows) => ({ sum: { name: 'sum', datatype: 'FP32', shape: [rows.length], values: Float32Array.from(rows, (r) => r[0]!) } }),
      },
      planExplanation(values, req) {
        if (req.method !== undefined && req.method !== 'leave-one-out') throw invalidInput('unknown-method', 'use leave-one-out');
        return {
          method: 'leave-one-out',
          async run(evaluate) {
            const variants = [values, ...values.map((_, i) => values.map((v, j) => (i === j ? 0 : v)))].map((r) => Float32Array.from(r));
            const [whole, ...without] = await evaluate(variants);
            const contributions = without.map((o) => whole![0]! - o[0]!);
            return { method: 'leave-one-out', evaluations: variants.length, body: { method: 'leave-one-out', contributions, evaluations: variants.length }, log: { method: 'leave-one-out' } };
          },
        };
      },
      openApi: () => ({
        summary: `Sum ${n} values`,
        batchSummary: `Sum ${n} values of up to MAX_BATCH_FILES rows`,
        single: { content: { 'application/json': { schema: { type: 'object', properties: { values: { type: 'array', items: { type: 'number' } } } } } } },
        batch: { content: { 'application/json': { schema: { type: 'object' } } } },
        answer: { type: 'object', properties: { sum: { type: 'number' } } },
      }),
    };
  },
  answerSchemas: [sumAnswerSchema],
  explanationSchemas: [sumExplanationSchema],
};

describe('a model kind defined outside src/', () => {
  const root = mkdtempSync(join(tmpdir(), 'sum-kind-'));
  let app: FastifyInstance;
  let base: string;

  beforeAll(async () => {
    for (const version of ['1', '2']) {
      const dir = join(root, 'summer', version);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'model.onnx'), sumModel());
      writeFileSync(join(dir, 'metadata.json'), JSON.stringify({ kind: 'sum', size: SIZE }));
    }
    writeFileSync(join(root, 'summer', 'config.json'), JSON.stringify({ version_policy: { all: {} }, traffic: { split: { '1': 50, '2': 50 } } }));
    app = await buildApp({ MODEL_REPOSITORY: root, DEFAULT_MODEL: 'summer', ADMIN_API_KEYS: ADMIN }, true, [sumKind as ModelKind]);
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });

  afterAll(async () => {
    await app.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('is described and answers /predict, then from the cache', async () => {
    const described = await request(app.server).get('/v1/models/summer');
    expect(described.body).toMatchObject({ kind: 'sum', metadata: { kind: 'sum', size: SIZE, runtime: 'onnx' } });
    const first = await request(app.server).post('/v1/models/summer/versions/1/predict').send({ values: [1, 2, 3, 4.5] });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ sum: 10.5, cached: false, model: { name: 'summer', version: '1' } });
    expect(first.headers['x-cache']).toBe('MISS');
    let again = first;
    for (let i = 0; i < 50 && again.body.cached !== true; i++) again = await request(app.server).post('/v1/models/summer/versions/1/predict').send({ values: [1, 2, 3, 4.5] });
    expect(again.body).toMatchObject({ sum: 10.5, cached: true });
    expect(again.headers['x-cache']).toBe('HIT');
  });

  it('answers a batch, each row alone, and refuses bad input with its own errors', async () => {
    const res = await request(app.server).post('/predict/batch').send({ instances: [[1, 1, 1, 1], [1, 'x'], [0, 0, 0, -2]] });
    expect(res.status).toBe(200);
    expect(res.body.predictions).toEqual([
      { index: 0, filename: null, sum: 4, cached: expect.any(Boolean) },
      { index: 1, filename: null, error: { status: 400, title: 'Bad Request', detail: `values must be ${SIZE} finite numbers` } },
      { index: 2, filename: null, sum: -2, cached: expect.any(Boolean) },
    ]);
    const bad = await request(app.server).post('/predict').send({ values: [1] });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ type: 'urn:ml-inference-api:problem:invalid-values', detail: `values must be ${SIZE} finite numbers` });
    const media = await request(app.server).post('/predict').set('content-type', 'image/png').send(Buffer.from('png'));
    expect(media.status).toBe(415);
    // Finite values whose sum is not (float32 overflows): a client error, on every route form, never a 500.
    const overflow = await request(app.server).post('/v1/models/summer/versions/1/predict').send({ values: [3e38, 3e38, 0, 0] });
    expect(overflow.status).toBe(422);
    expect(overflow.body).toMatchObject({ type: 'urn:ml-inference-api:problem:non-finite-output', detail: 'the model gives no finite answer for this input: its values are too extreme for the model' });
    const mixed = await request(app.server).post('/v1/models/summer/versions/1/predict/batch').send({ instances: [[3e38, 3e38, 0, 0], [1, 1, 1, 1]] });
    expect(mixed.body.predictions.map((p: { sum?: number; error?: { status: number } }) => p.sum ?? p.error?.status)).toEqual([422, 4]);
    const v2 = await request(app.server).post('/v2/models/summer/versions/1/infer').send({ inputs: [{ name: 'values', shape: [1, SIZE], datatype: 'FP32', data: [3e38, 3e38, 0, 0] }] });
    expect(v2.status).toBe(400);
    expect(v2.body.error).toBe("input 'values' row 0: the model gives no finite answer for this input: its values are too extreme for the model");
    const explained = await request(app.server).post('/v1/models/summer/versions/1/explain').send({ values: [3e38, 3e38, 0, 0] });
    expect(explained.status).toBe(422);
  });

  it('speaks the Open Inference Protocol, in JSON and binary', async () => {
    const client = new V2Client(base, 'kserve');
    const metadata = await client.send('model_metadata', 'GET', '/v2/models/summer/versions/1');
    expect(metadata.body).toMatchObject({ inputs: [{ name: 'values', datatype: 'FP32', shape: [-1, SIZE] }], outputs: [{ name: 'sum', datatype: 'FP32', shape: [-1] }], properties: { kind: 'sum', size: String(SIZE) } });
    for (const binary of [false, true]) {
      const input = new InferInput('values', [2, SIZE], 'FP32').setData(Float32Array.from([1, 2, 3, 4, 10, 20, 30, 40]), binary);
      const res = await client.infer('summer', [input], { version: '2' });
      expect(res.status).toBe(200);
      expect(res.result!.asNumbers('sum')).toEqual([10, 100]);
    }
    const triton = new V2Client(base, 'triton');
    const res = await triton.infer('summer', [new InferInput('values', [1, SIZE], 'FP32').setData(Float32Array.from([1, 1, 1, 1]), true)], { version: '1' });
    expect(res.result!.asNumbers('sum')).toEqual([4]);
    const wrong = await client.infer('summer', [new InferInput('values', [1, 3], 'FP32').setData(Float32Array.from([1, 1, 1]), false)]);
    expect(wrong.status).toBe(400);
    expect(wrong.body).toEqual({ error: `send FP32 [N, ${SIZE}]` });
  });

  it('explains with its own method', async () => {
    const res = await request(app.server).post('/v1/models/summer/explain').send({ values: [1, 2, 3, 4] });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ method: 'leave-one-out', contributions: [1, 2, 3, 4], evaluations: 5, model: { name: 'summer' } });
    const refused = await request(app.server).post('/v1/models/summer/explain?method=occlusion').send({ values: [1, 2, 3, 4] });
    expect(refused.status).toBe(400);
  });

  it('follows the traffic split on the native routes and /v2 alike, and counts both per version', async () => {
    const counted = async (): Promise<Record<string, number>> => {
      const traffic = await request(app.server).get('/v1/models/summer/traffic').set('x-api-key', ADMIN);
      return Object.fromEntries((traffic.body.versions as { version: string; requests: number }[]).map((v) => [v.version, v.requests]));
    };
    const metric = async (version: string): Promise<number> => Number(new RegExp(`mlapi_traffic_requests_total\\{model="summer",version="${version}",role="(?:primary|canary)"\\} (\\d+)`).exec((await request(app.server).get('/metrics')).text)?.[1] ?? 0);
    // Earlier tests' unversioned requests were routed and counted too.
    const before = await counted();
    const metricsBefore = { '1': await metric('1'), '2': await metric('2') };
    const seen: Record<string, number> = {};
    const client = new V2Client(base, 'kserve');
    for (let i = 0; i < 10; i++) {
      const native = await request(app.server).post('/v1/models/summer/predict').send({ values: [i, 0, 0, 0] });
      expect(native.status).toBe(200);
      seen[native.headers['x-model-version'] as string] = (seen[native.headers['x-model-version'] as string] ?? 0) + 1;
      const v2 = await client.infer('summer', [new InferInput('values', [1, SIZE], 'FP32').setData(Float32Array.from([i, 1, 0, 0]), false)]);
      expect(v2.status).toBe(200);
      const version = v2.headers.get('x-model-version')!;
      expect((v2.body as { model_version: string }).model_version).toBe(version);
      seen[version] = (seen[version] ?? 0) + 1;
    }
    // Smooth weighted round-robin: exact 50/50 shares over the 20 routed requests.
    expect(seen).toEqual({ '1': 10, '2': 10 });
    const after = await counted();
    expect({ '1': after['1']! - (before['1'] ?? 0), '2': after['2']! - (before['2'] ?? 0) }).toEqual({ '1': 10, '2': 10 });
    expect({ '1': (await metric('1')) - metricsBefore['1'], '2': (await metric('2')) - metricsBefore['2'] }).toEqual({ '1': 10, '2': 10 });
  });

  it('mirrors single, batch and /v2 requests alike to a shadow version, once answered', async () => {
    const put = await request(app.server).put('/v1/models/summer/traffic').set('x-api-key', ADMIN).send({ split: { '1': 100 }, shadow: { version: '2', fraction: 1 } });
    expect(put.status).toBe(200);
    const compared = async (): Promise<number> => ((await request(app.server).get('/v1/models/summer/traffic').set('x-api-key', ADMIN)).body.shadow?.compared as number | undefined) ?? 0;
    const until = async (n: number): Promise<void> => {
      for (let i = 0; i < 400 && (await compared()) < n; i++) await new Promise((r) => setTimeout(r, 5));
      expect(await compared()).toBe(n);
    };
    expect((await request(app.server).post('/predict').send({ values: [5, 6, 7, 8] })).headers['x-model-version']).toBe('1');
    await until(1);
    expect((await request(app.server).post('/predict/batch').send({ instances: [[1, 0, 0, 0], [0, 2, 0, 0]] })).status).toBe(200);
    await until(3);
    const v2 = await new V2Client(base, 'kserve').infer('summer', [new InferInput('values', [3, SIZE], 'FP32').setData(Float32Array.from([1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]), true)]);
    expect(v2.result!.asNumbers('sum')).toEqual([4, 8, 12]);
    await until(6);
    const summary = (await request(app.server).get('/v1/models/summer/traffic').set('x-api-key', ADMIN)).body;
    expect(summary.shadow).toMatchObject({ version: '2', compared: 6, agreement_rate: 1, mean_abs_diff: 0, dropped: 0, failed: 0 });
  });
});
