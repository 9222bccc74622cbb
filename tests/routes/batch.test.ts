import type { FastifyInstance } from 'fastify';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../helpers/app.js';
import * as img from '../helpers/images.js';

describe('POST /predict/batch', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await buildApp({ MAX_BATCH_FILES: '4' });
  });
  afterAll(async () => {
    await app.close();
  });

  const post = () => request(app.server).post('/predict/batch');

  it('returns one prediction per image, in request order, matching /predict', async () => {
    const labels = ['cat', 'ship', 'truck'] as const;
    let req = post();
    for (const l of labels) req = req.attach('files', img.photo(l), `${l}.jpg`);
    const res = await req;
    expect(res.status).toBe(200);
    expect(res.body.model).toEqual({ name: 'cifar10', version: expect.any(String) });
    expect(res.body.predictions.map((p: { index: number; filename: string }) => [p.index, p.filename])).toEqual([
      [0, 'cat.jpg'],
      [1, 'ship.jpg'],
      [2, 'truck.jpg'],
    ]);
    for (const [i, l] of labels.entries()) {
      const single = await request(app.server).post('/predict').attach('file', img.photo(l), `${l}.jpg`);
      // Batched and single inference agree (up to float rounding in the batched kernels).
      res.body.predictions[i].probabilities.forEach((p: number, k: number) => expect(p).toBeCloseTo(single.body.probabilities[k], 4));
      expect(res.body.predictions[i].class_label).toBe(single.body.class_label);
    }
  });

  it('one bad image does not fail the others', async () => {
    const res = await post()
      .attach('files', img.photo('dog'), 'dog.jpg')
      .attach('files', img.textFile, 'notes.jpg')
      .attach('files', img.svg, 'logo.svg')
      .attach('files', img.truncatedJpeg(), 'broken.jpg');
    expect(res.status).toBe(200);
    const [dog, text, svg, broken] = res.body.predictions;
    expect(dog.class_label).toEqual(expect.any(String));
    expect(text).toEqual({ index: 1, filename: 'notes.jpg', error: { status: 400, title: 'Bad Request', detail: expect.any(String) } });
    expect(svg.error.status).toBe(415);
    expect(broken.error.status).toBe(422);
  });

  it('accepts JSON {"images": [base64, ...]}, with a bad entry failing alone', async () => {
    const res = await post().send({ images: [img.photo('frog').toString('base64'), '***', img.photo('deer').toString('base64')] });
    expect(res.status).toBe(200);
    expect(res.body.predictions).toHaveLength(3);
    expect(res.body.predictions[1].error.detail).toMatch(/base64/);
    expect(res.body.predictions[0].class_label).toEqual(expect.any(String));
    expect(res.body.predictions[2].class_label).toEqual(expect.any(String));
  });

  it('413 for MAX_BATCH_FILES + 1 files, multipart or JSON', async () => {
    let req = post();
    for (let i = 0; i < 5; i++) req = req.attach('files', img.photo('cat'), `${i}.jpg`);
    const res = await req;
    expect(res.status).toBe(413);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.detail).toBe('at most 4 files per request (MAX_BATCH_FILES)');
    const json = await post().send({ images: Array(5).fill(img.photo('cat').toString('base64')) });
    expect(json.status).toBe(413);
    expect(json.body.detail).toMatch(/at most 4/);
  });

  it('400 for no files, the wrong field name, or an empty JSON list', async () => {
    expect((await post().field('a', 'b')).status).toBe(400);
    const wrong = await post().attach('file', img.photo('cat'), 'cat.jpg');
    expect(wrong.status).toBe(400);
    expect(wrong.body.detail).toMatch(/'files'/);
    expect((await post().send({ images: [] })).status).toBe(400);
  });
});
