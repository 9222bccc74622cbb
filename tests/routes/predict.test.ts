import type { FastifyInstance } from 'fastify';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../helpers/app.js';
import * as img from '../helpers/images.js';

const PROBLEM = /^application\/problem\+json/;

function expectPrediction(body: Record<string, unknown>, topK = 3): void {
  expect(body).toMatchObject({
    class_label: expect.any(String),
    class_index: expect.any(Number),
    confidence: expect.any(Number),
    model: { name: 'cifar10', version: expect.any(String) },
    latency_ms: expect.any(Number),
  });
  const probs = body.probabilities as number[];
  expect(probs).toHaveLength(10);
  expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 3);
  expect(body.confidence).toBe(Math.max(...probs));
  expect(body.top_k).toHaveLength(topK);
  expect((body.top_k as { label: string }[])[0]!.label).toBe(body.class_label);
}

describe('POST /predict', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await buildApp();
  });
  afterAll(async () => {
    await app.close();
  });

  const post = () => request(app.server).post('/predict');

  it('classifies a real photo sent as multipart field "file"', async () => {
    const res = await post().attach('file', img.photo('ship'), 'ship.jpg');
    expect(res.status).toBe(200);
    expectPrediction(res.body);
  });

  it('gives the same answer for JSON base64, a data URL and a raw image body', async () => {
    const bytes = img.photo('cat');
    const multipart = await post().attach('file', bytes, 'cat.jpg');
    const json = await post().send({ image: bytes.toString('base64') });
    const dataUrl = await post().send({ image: `data:image/jpeg;base64,${bytes.toString('base64')}` });
    const raw = await post().set('Content-Type', 'image/jpeg').send(bytes);
    const octet = await post().set('Content-Type', 'application/octet-stream').send(bytes);
    for (const res of [json, dataUrl, raw, octet]) {
      expect(res.status).toBe(200);
      expect(res.body.probabilities).toEqual(multipart.body.probabilities);
    }
  });

  it('ignores the declared type: a PNG sent as image/jpeg is read as PNG', async () => {
    const res = await post().attach('file', await img.pngRgb(), { filename: 'x.jpg', contentType: 'image/jpeg' });
    expect(res.status).toBe(200);
  });

  it('honours top_k and rejects out-of-range values', async () => {
    const one = await post().query({ top_k: 1 }).attach('file', img.photo('dog'), 'dog.jpg');
    expect(one.status).toBe(200);
    expectPrediction(one.body, 1);
    const ten = await post().query({ top_k: 10 }).attach('file', img.photo('dog'), 'dog.jpg');
    expectPrediction(ten.body, 10);
    for (const bad of ['0', '11', 'abc']) {
      const res = await post().query({ top_k: bad }).attach('file', img.photo('dog'), 'dog.jpg');
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.body.detail).toMatch(/top_k/);
    }
  });

  it.each([
    ['grayscale PNG', img.pngGray],
    ['RGBA PNG', img.pngRgba],
    ['16-bit PNG', img.png16bit],
    ['palette PNG', img.pngPalette],
    ['1×1 PNG', img.onePixel],
    ['CMYK JPEG', img.jpegCmyk],
    ['EXIF-rotated JPEG', img.jpegExifRotated],
    ['animated GIF', img.animatedGif],
    ['WebP', img.webp],
    ['TIFF', img.tiff],
    ['AVIF', img.avif],
  ])('accepts a %s', async (_name, make) => {
    const res = await post().attach('file', await make(), 'image');
    expect(res.status).toBe(200);
    expectPrediction(res.body);
  });

  it.each([
    ['a text file named .jpg', () => img.textFile, 400, 'not-an-image'],
    ['zero bytes', () => Buffer.alloc(0), 400, 'empty-image'],
    ['a PDF', () => img.pdf, 400, 'not-an-image'],
    ['an SVG', () => img.svg, 415, 'unsupported-image'],
    ['a JPEG cut in half', () => img.truncatedJpeg(0.5), 422, 'undecodable-image'],
    ['a JPEG missing its last bytes', () => img.truncatedJpeg(0.9), 422, 'undecodable-image'],
    ['a 20000×20000 PNG bomb', () => img.pngBomb(), 422, 'image-too-large'],
  ])('rejects %s with a clear 4xx problem', async (_name, make, status, slug) => {
    const res = await post().set('X-Request-Id', `bad-${slug}`).attach('file', make(), 'photo.jpg');
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.body).toMatchObject({
      type: `urn:ml-inference-api:problem:${slug}`,
      status,
      instance: '/predict',
      request_id: `bad-${slug}`,
      detail: expect.any(String),
    });
  });

  it('400 when the file is sent under the wrong field name', async () => {
    const res = await post().attach('image', img.photo('cat'), 'cat.jpg');
    expect(res.status).toBe(400);
    expect(res.body.detail).toMatch(/'file'/);
  });

  it('400 for a multipart body with no file, a malformed JSON body, invalid base64 or no body', async () => {
    const noFile = await post().field('note', 'hello');
    expect(noFile.status).toBe(400);
    const malformed = await post().set('Content-Type', 'application/json').send('{"image": ');
    expect(malformed.status).toBe(400);
    expect(malformed.headers['content-type']).toMatch(PROBLEM);
    const wrongShape = await post().send({ picture: 'abc' });
    expect(wrongShape.status).toBe(400);
    const badBase64 = await post().send({ image: 'not base64!!' });
    expect(badBase64.status).toBe(400);
    expect(badBase64.body.detail).toMatch(/base64/);
    const empty = await post();
    expect(empty.status).toBe(400);
  });

  it('400 for a multipart body with broken framing', async () => {
    const res = await post()
      .set('Content-Type', 'multipart/form-data; boundary=XYZ')
      .send('--XYZ\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\nabc');
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(PROBLEM);
  });

  it('415 for an unsupported Content-Type', async () => {
    const text = await post().set('Content-Type', 'text/plain').send('hello');
    expect(text.status).toBe(415);
    expect(text.headers['content-type']).toMatch(PROBLEM);
    expect(text.body.detail).toBe("Content-Type 'text/plain' is not accepted here; send multipart/form-data, application/json, image/* or application/octet-stream");
    const xml = await post().set('Content-Type', 'application/xml').send('<a/>');
    expect(xml.status).toBe(415);
    expect(xml.body.detail).toMatch(/^Content-Type 'application\/xml' is not accepted here; send multipart/);
  });

  it('413 for a file over MAX_UPLOAD_BYTES, in every encoding', async () => {
    const small = await buildApp({ MAX_UPLOAD_BYTES: '2000' });
    try {
      const big = await img.pngRgb(200, 200);
      expect(big.length).toBeGreaterThan(2000);
      const multipart = await request(small.server).post('/predict').attach('file', big, 'big.png');
      expect(multipart.status).toBe(413);
      expect(multipart.headers['content-type']).toMatch(PROBLEM);
      expect(multipart.body.detail).toMatch(/^the form is larger than \d+ bytes: a file may be at most MAX_UPLOAD_BYTES \(2000 bytes\)$/);
      const raw = await request(small.server).post('/predict').set('Content-Type', 'image/png').send(big);
      expect(raw.status).toBe(413);
      expect(raw.body.detail).toMatch(/^the request body is larger than \d+ bytes, this route's limit \(MAX_UPLOAD_BYTES, with room for base64 or form encoding\)$/);
      const json = await request(small.server).post('/predict').send({ image: big.toString('base64') });
      expect(json.status).toBe(413);
      expect(json.body.detail).toMatch(/MAX_UPLOAD_BYTES/);
      for (const res of [multipart, raw, json]) expect(res.body.detail).not.toMatch(/too large|file size limit|reach/i);
    } finally {
      await small.close();
    }
  });

  it('422 for an image over MAX_INPUT_PIXELS, checked from the header', async () => {
    const strict = await buildApp({ MAX_INPUT_PIXELS: '1000' });
    try {
      const res = await request(strict.server).post('/predict').attach('file', await img.pngRgb(64, 48), 'x.png');
      expect(res.status).toBe(422);
      expect(res.body.detail).toMatch(/3072 pixels; the limit is 1000/);
    } finally {
      await strict.close();
    }
  });
});
