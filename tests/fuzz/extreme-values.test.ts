/**
 * Extreme and non-finite numbers through every route form of every tabular kind (native
 * single and batch, rows as arrays and objects; V2 in JSON and binary, FP32 and FP64;
 * explain): a value the model cannot represent, or one that leads to a non-finite output, is a
 * client error naming the feature or the input; never a 5xx, and every answered number is
 * finite. Images have no such values (8-bit pixels); their bad inputs are fuzzed in uploads.test.ts.
 */
import type { FastifyInstance } from 'fastify';
import fc from 'fast-check';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../helpers/app.js';

const MODELS = { iris: ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'], 'wine-quality': ['fixed_acidity', 'volatile_acidity', 'citric_acid', 'residual_sugar', 'chlorides', 'free_sulfur_dioxide', 'total_sulfur_dioxide', 'density', 'ph', 'sulphates', 'alcohol'] } as const;
type Model = keyof typeof MODELS;

const EXTREMES = [1e39, -1e39, 1e308, -1e308, Number.MAX_VALUE, -Number.MAX_VALUE, 3.4e38, -3.4e38, 1e30, -1e30, 1e20, 5e-324, -0];
const NON_FINITE = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
const ordinary = fc.double({ min: -50, max: 50, noNaN: true });
const value = fc.oneof(ordinary, fc.constantFrom(...EXTREMES));
const row = (n: number) => fc.array(value, { minLength: n, maxLength: n }).filter((r) => r.some((v) => EXTREMES.includes(v)));

/** Every number in a JSON answer is finite. */
function allFinite(body: unknown): boolean {
  if (typeof body === 'number') return Number.isFinite(body);
  if (body === null) return true;
  if (Array.isArray(body)) return body.every(allFinite);
  if (typeof body === 'object') return Object.values(body as object).every(allFinite);
  return true;
}

function binaryRequest(datatype: 'FP32' | 'FP64', rows: number[][]): { header: string; body: Buffer } {
  const flat = rows.flat();
  const data = datatype === 'FP32' ? Buffer.from(Float32Array.from(flat).buffer) : Buffer.from(Float64Array.from(flat).buffer);
  const json = Buffer.from(JSON.stringify({ inputs: [{ name: 'features', shape: [rows.length, rows[0]!.length], datatype, parameters: { binary_data_size: data.length } }] }));
  return { header: String(json.length), body: Buffer.concat([json, data]) };
}

describe('extreme and non-finite feature values', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await buildApp({ CACHE_MAX_ENTRIES: '0' });
  });
  afterAll(() => app.close());

  /** A client error naming a feature of the model, or an answer with finite numbers only. */
  function expectSound(model: Model, res: request.Response, v2 = false): void {
    expect(res.status, JSON.stringify(res.body)).toBeLessThan(500);
    if (res.status === 200) {
      expect(allFinite(res.body), JSON.stringify(res.body)).toBe(true);
      return;
    }
    expect([400, 422]).toContain(res.status);
    const text = v2 ? (res.body as { error: string }).error : (res.body as { detail: string }).detail;
    const named = MODELS[model].some((f) => text.includes(f)) || /input 'features'/.test(text);
    expect(named, text).toBe(true);
  }

  for (const model of Object.keys(MODELS) as Model[]) {
    const features = MODELS[model];
    it(`${model}: native single (array and object), batch and explain`, async () => {
      await fc.assert(
        fc.asyncProperty(row(features.length), async (r) => {
          const byName = Object.fromEntries(features.map((f, i) => [f, r[i]]));
          expectSound(model, await request(app.server).post(`/v1/models/${model}/predict`).send({ features: r }));
          expectSound(model, await request(app.server).post(`/v1/models/${model}/predict`).send({ features: byName }));
          const batch = await request(app.server).post(`/v1/models/${model}/predict/batch`).send({ instances: [r, byName] });
          expect(batch.status).toBe(200);
          for (const p of batch.body.predictions as Record<string, unknown>[]) {
            if ('error' in p) expect([400, 422]).toContain((p.error as { status: number }).status);
            else expect(allFinite(p), JSON.stringify(p)).toBe(true);
          }
          expectSound(model, await request(app.server).post(`/v1/models/${model}/explain`).send({ features: r }));
        }),
        { numRuns: 12, seed: 2024 },
      );
    });

    it(`${model}: V2 JSON FP64 and binary FP32 / FP64, with non-finite values in binary`, async () => {
      await fc.assert(
        fc.asyncProperty(row(features.length), fc.constantFrom(...NON_FINITE), fc.nat(features.length - 1), async (r, bad, at) => {
          const json = await request(app.server)
            .post(`/v2/models/${model}/infer`)
            .send({ inputs: [{ name: 'features', shape: [1, features.length], datatype: 'FP64', data: r }] });
          expectSound(model, json, true);
          const withBad = r.map((v, i) => (i === at ? bad : v));
          for (const datatype of ['FP32', 'FP64'] as const) {
            for (const rows of [[r], [withBad], [r, withBad]]) {
              const { header, body } = binaryRequest(datatype, rows);
              const res = await request(app.server).post(`/v2/models/${model}/infer`).set('inference-header-content-length', header).send(body);
              expectSound(model, res, true);
            }
          }
        }),
        { numRuns: 8, seed: 2024 },
      );
    });
  }

  it('names the feature a value too large for 32-bit inputs, and one too far from its training values', async () => {
    const big = await request(app.server).post('/v1/models/iris/predict').send({ features: [5.1, 1e39, 1.4, 0.2] });
    expect(big.status).toBe(422);
    expect(big.body.errors).toEqual([{ feature: 'sepal_width', message: "sepal_width 1e+39 is too large for the model's 32-bit inputs (at most ±3.4e38)" }]);
    // Density varies by about 0.003 in training: 3.4e38 of it standardizes past 32-bit floats.
    const far = await request(app.server).post('/v1/models/wine-quality/predict').send({ features: [7.4, 0.7, 0, 1.9, 0.076, 11, 34, 3.4e38, 3.51, 0.56, 9.4] });
    expect(far.status).toBe(422);
    expect(far.body.errors).toEqual([{ feature: 'density', message: expect.stringMatching(/^density 3\.4e\+38 is too far from its training values \(mean 0\.99\d+\) for the model's 32-bit inputs$/) }]);
    const v2 = await request(app.server).post('/v2/models/iris/infer').send({ inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP64', data: [-1e308, 3, 1, 0.2] }] });
    expect(v2.status).toBe(400);
    expect(v2.body.error).toMatch(/^input 'features' row 0: sepal_length -1e\+308 is too large/);
    // The metrics still scrape, with no non-finite observation.
    const metrics = await request(app.server).get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.text).not.toMatch(/ NaN$/m);
  });
});
