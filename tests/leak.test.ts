import * as tf from '@tensorflow/tfjs';
import type { FastifyInstance } from 'fastify';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from './helpers/app.js';
import * as img from './helpers/images.js';

describe('resource leaks', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    // One in-thread instance, so the model's tensors live in this thread's engine.
    app = await buildApp({ INFERENCE_WORKERS: '0', CACHE_MAX_ENTRIES: '0' });
  });
  afterAll(async () => {
    await app.close();
  });

  it('hundreds of good and bad requests leave the tensor count unchanged', async () => {
    const good = [img.photo('cat'), await img.pngRgba(), await img.jpegCmyk(), await img.animatedGif()];
    const bad = [img.textFile, Buffer.alloc(0), img.svg, img.truncatedJpeg(), img.pngBomb()];
    const send = async (i: number): Promise<number> => {
      const kind = i % 4;
      if (kind === 0) return (await request(app.server).post('/predict').attach('file', good[i % good.length]!, 'a.jpg')).status;
      if (kind === 1) return (await request(app.server).post('/predict').attach('file', bad[i % bad.length]!, 'b.jpg')).status;
      if (kind === 2) {
        return (
          await request(app.server)
            .post('/predict/batch')
            .attach('files', good[i % good.length]!, 'a.jpg')
            .attach('files', bad[i % bad.length]!, 'b.jpg')
        ).status;
      }
      return (await request(app.server).post('/predict').set('Content-Type', 'image/jpeg').send(good[0]!)).status;
    };
    for (let i = 0; i < 8; i++) await send(i); // warm every path
    const before = tf.memory();
    const statuses: number[] = [];
    for (let round = 0; round < 40; round++) {
      statuses.push(...(await Promise.all(Array.from({ length: 8 }, (_, k) => send(round * 8 + k)))));
    }
    const after = tf.memory();
    expect(statuses).toHaveLength(320);
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    expect(new Set(statuses)).toEqual(new Set([200, 400, 415, 422]));
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numBytes).toBe(before.numBytes);
  });
});
