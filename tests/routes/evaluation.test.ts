/**
 * A version's evaluation over real HTTP: the version detail links it and gives its headline
 * figures, the whole evaluation and its pictures are served, a regressor reports its error
 * distribution, and a broken evaluation.json is refused with the reason.
 */
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, SHIPPED_REPOSITORY } from '../helpers/app.js';
import { TempRepository } from '../helpers/repository.js';

describe('the shipped models\' evaluations', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await buildApp({ MODEL_REPOSITORY: SHIPPED_REPOSITORY });
  });
  afterAll(async () => app.close());

  it('the version detail links the evaluation, its card and its pictures, with the headline figures', async () => {
    const res = await request(app.server).get('/v1/models/cifar10/versions/1');
    expect(res.status).toBe(200);
    expect(res.body.evaluation).toMatchObject({
      href: '/v1/models/cifar10/versions/1/evaluation',
      card: 'docs/models/cifar10.md',
      figures: { confusion: '/v1/models/cifar10/versions/1/evaluation/confusion.png', reliability: '/v1/models/cifar10/versions/1/evaluation/reliability.png' },
      summary: { task: 'classification', items: 2500 },
    });
    const { accuracy, calibration } = res.body.evaluation.summary;
    expect(accuracy.low).toBeLessThanOrEqual(accuracy.value);
    expect(accuracy.high).toBeGreaterThanOrEqual(accuracy.value);
    expect(calibration.ece_after).toBeLessThan(calibration.ece_before);
    const whole = await request(app.server).get(res.body.evaluation.href);
    expect(whole.status).toBe(200);
    expect(whole.body.perClass).toHaveLength(10);
    expect(whole.body.calibration.bins.after).toHaveLength(15);
  });

  it('draws the pictures as PNG, and answers 404 for one it does not draw', async () => {
    for (const url of ['/v1/models/cifar10/versions/1/evaluation/confusion.png', '/v1/models/cifar10/versions/1/evaluation/reliability.png', '/v1/models/wine-quality/versions/1/evaluation/errors.png']) {
      const res = await request(app.server)
        .get(url)
        .buffer(true)
        .parse((r, done) => {
          const chunks: Buffer[] = [];
          r.on('data', (c: Buffer) => chunks.push(c));
          r.on('end', () => done(null, Buffer.concat(chunks)));
        });
      expect(res.status, url).toBe(200);
      expect(res.headers['content-type']).toBe('image/png');
      const meta = await sharp(res.body as Buffer).metadata();
      expect(meta.format).toBe('png');
      expect(meta.width).toBeGreaterThan(300);
    }
    const missing = await request(app.server).get('/v1/models/wine-quality/versions/1/evaluation/reliability.png');
    expect(missing.status).toBe(404);
    expect(missing.body.type).toMatch(/no-evaluation$/);
    expect(missing.body.detail).toMatch(/draws confusion\.png, errors\.png/);
  });

  it('a regressor reports its held-out error distribution in GET /v1/models/{name}', async () => {
    const res = await request(app.server).get('/v1/models/wine-quality');
    expect(res.status).toBe(200);
    const { errors } = res.body.metadata;
    expect(errors.meanAbsoluteError).toBeGreaterThan(0);
    expect(errors.interval.coverage).toBe(0.9);
    expect(errors.interval.low).toBeLessThan(0);
    expect(errors.interval.high).toBeGreaterThan(0);
    const iris = await request(app.server).get('/v1/models/iris');
    expect(iris.body.metadata.calibration.temperature).toBeGreaterThan(0);
  });
});

describe('a version without an evaluation, or with a broken one', () => {
  const repo = new TempRepository();
  let app: FastifyInstance;
  beforeAll(async () => {
    repo.publish('plain', '1', (f) => f.remove('evaluation.json'));
    repo.publish('garbled', '1', (f) => f.write('evaluation.json', '{"task": "classification", "items": -1'));
    repo.publish('linked', '1', (f) => {
      f.remove('evaluation.json');
      symlinkSync('/etc/passwd', join(f.dir, 'evaluation.json'));
    });
    app = await buildApp({ MODEL_REPOSITORY: repo.root, DEFAULT_MODEL: 'plain' });
  });
  afterAll(async () => {
    await app.close();
    repo.dispose();
  });

  it('has no evaluation link, and GET …/evaluation answers 404 saying how to make one', async () => {
    const res = await request(app.server).get('/v1/models/plain/versions/1');
    expect(res.body.evaluation).toBeNull();
    const missing = await request(app.server).get('/v1/models/plain/versions/1/evaluation');
    expect(missing.status).toBe(404);
    expect(missing.body.detail).toMatch(/npm run evaluate -- plain --version 1/);
  });

  it('is refused when evaluation.json is not JSON or not a regular file, with the reason', async () => {
    for (const [name, reason] of [
      ['garbled', /evaluation\.json is not JSON/],
      ['linked', /evaluation\.json is not a regular file/],
    ] as const) {
      const res = await request(app.server).get(`/v1/models/${name}/versions/1`);
      expect(res.body.state, name).toBe('FAILED');
      expect(res.body.reason, name).toMatch(reason);
    }
  });
});
