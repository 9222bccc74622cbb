/**
 * The shipped CIFAR-10 model's answers, held against the answers recorded in
 * tests/fixtures/answers/cifar10.json: for every fixture photo and every holdout photo,
 * through every route form (native multipart, raw and JSON base64, both batch forms; the
 * Open Inference Protocol's BYTES in JSON and in binary, and UINT8 pixels), every probability
 * within 1e-5 of the recorded one and the same top-1 label. Work on the request path (decoders,
 * hand-offs, serialization) must keep them.
 *
 * RECORD_ANSWERS=1 npx vitest run tests/routes/recorded-answers.test.ts records them anew
 * (from the multipart form), for a change that is meant to change the answers (a new model).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../helpers/app.js';
import { serializeBytes } from '../helpers/open-inference.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
const RECORDED = join(FIXTURES, 'answers', 'cifar10.json');
const TOLERANCE = 1e-5;

/** Every photo: `images/<label>.jpg` and `holdout/<label>/<n>.jpg`, keyed by that path. */
function photos(): { key: string; bytes: Buffer }[] {
  const out = readdirSync(join(FIXTURES, 'images'))
    .filter((f) => f.endsWith('.jpg'))
    .sort()
    .map((f) => ({ key: `images/${f}`, bytes: readFileSync(join(FIXTURES, 'images', f)) }));
  for (const label of readdirSync(join(FIXTURES, 'holdout')).sort()) {
    for (const f of readdirSync(join(FIXTURES, 'holdout', label)).sort()) out.push({ key: `holdout/${label}/${f}`, bytes: readFileSync(join(FIXTURES, 'holdout', label, f)) });
  }
  return out;
}

type Answers = Record<string, number[]>;
const argMax = (p: readonly number[]): number => p.indexOf(Math.max(...p));

describe('recorded answers of the shipped CIFAR-10 model, through every route form', () => {
  let app: FastifyInstance;
  const all = photos();
  beforeAll(async () => {
    app = await buildApp({ CACHE_MAX_ENTRIES: '0' });
  });
  afterAll(() => app.close());

  const post = (path: string) => request(app.server).post(path);
  const probabilities = (res: request.Response): number[] => {
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.probabilities as number[];
  };
  const v2Outputs = (res: request.Response): number[][] => {
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const out = (res.body.outputs as { name: string; shape: number[]; data: number[] }[]).find((o) => o.name === 'probabilities')!;
    return Array.from({ length: out.shape[0]! }, (_, i) => out.data.slice(i * out.shape[1]!, (i + 1) * out.shape[1]!));
  };
  const v2Binary = (input: { datatype: string; shape: number[] }, data: Buffer) => {
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'image', ...input, parameters: { binary_data_size: data.length } }], outputs: [{ name: 'probabilities' }] }));
    return post('/v2/models/cifar10/infer').set('content-type', 'application/octet-stream').set('inference-header-content-length', String(header.length)).send(Buffer.concat([header, data]));
  };

  /** Each form's answers for every photo, in batches of ten where the form takes batches. */
  const forms: Record<string, (items: typeof all) => Promise<number[][]>> = {
    'predict multipart': async (items) => Promise.all(items.map(async (p) => probabilities(await post('/predict').attach('file', p.bytes, 'photo.jpg')))),
    'predict raw image/jpeg': async (items) => Promise.all(items.map(async (p) => probabilities(await post('/predict').set('content-type', 'image/jpeg').send(p.bytes)))),
    'predict JSON base64': async (items) => Promise.all(items.map(async (p) => probabilities(await post('/v1/models/cifar10/predict').send({ image: p.bytes.toString('base64') })))),
    'batch multipart': async (items) => {
      let req = post('/predict/batch');
      for (const p of items) req = req.attach('files', p.bytes, 'photo.jpg');
      const res = await req;
      expect(res.status).toBe(200);
      return (res.body.predictions as { probabilities: number[] }[]).map((e) => e.probabilities);
    },
    'batch JSON base64': async (items) => {
      const res = await post('/predict/batch').send({ images: items.map((p) => p.bytes.toString('base64')) });
      expect(res.status).toBe(200);
      return (res.body.predictions as { probabilities: number[] }[]).map((e) => e.probabilities);
    },
    'v2 JSON BYTES': async (items) => v2Outputs(await post('/v2/models/cifar10/infer').send({ inputs: [{ name: 'image', datatype: 'BYTES', shape: [items.length], data: items.map((p) => p.bytes.toString('base64')) }] })),
    'v2 binary BYTES': async (items) => v2Outputs(await v2Binary({ datatype: 'BYTES', shape: [items.length] }, serializeBytes(items.map((p) => p.bytes)))),
    'v2 binary UINT8 pixels': async (items) => {
      const pixels = await Promise.all(items.map((p) => sharp(p.bytes).removeAlpha().raw().toBuffer()));
      return v2Outputs(await v2Binary({ datatype: 'UINT8', shape: [items.length, 32, 32, 3] }, Buffer.concat(pixels)));
    },
  };

  async function answers(form: string): Promise<Answers> {
    const out: Answers = {};
    for (let i = 0; i < all.length; i += 10) {
      const items = all.slice(i, i + 10);
      const probs = await forms[form]!(items);
      items.forEach((p, k) => (out[p.key] = probs[k]!));
    }
    return out;
  }

  if (process.env.RECORD_ANSWERS === '1') {
    it('records the answers', async () => {
      mkdirSync(dirname(RECORDED), { recursive: true });
      const recorded = await answers('predict multipart');
      writeFileSync(RECORDED, `${JSON.stringify({ model: 'cifar10/1', tolerance: TOLERANCE, answers: recorded }, null, 1)}\n`);
    });
  }

  it('has an answer recorded for every photo', () => {
    expect(existsSync(RECORDED)).toBe(true);
    const { answers: recorded } = JSON.parse(readFileSync(RECORDED, 'utf8')) as { answers: Answers };
    expect(Object.keys(recorded).sort()).toEqual(all.map((p) => p.key).sort());
    expect(all.length).toBe(110);
  });

  for (const form of Object.keys(forms)) {
    it(`${form}: every probability within 1e-5 of the recorded answer, the same top-1 label`, async () => {
      const { answers: recorded } = JSON.parse(readFileSync(RECORDED, 'utf8')) as { answers: Answers };
      const got = await answers(form);
      for (const { key } of all) {
        const want = recorded[key]!;
        const have = got[key]!;
        expect(have, key).toHaveLength(want.length);
        expect(argMax(have), key).toBe(argMax(want));
        const worst = Math.max(...have.map((p, i) => Math.abs(p - want[i]!)));
        expect(worst, `${key}: largest difference ${worst}`).toBeLessThanOrEqual(TOLERANCE);
      }
    });
  }
});
