/** The model in models/cifar10 is what metadata says it is, and classifies real photos. */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeComplexity } from '../../src/training/complexity.js';
import { loadModelFromDir } from '../../src/inference/model-files.js';
import { readMetadata, type ModelMetadata } from '../../src/inference/metadata.js';
import { SHIPPED_MODEL, buildApp } from '../helpers/app.js';
import { LABELS, photo } from '../helpers/images.js';

describe('shipped model', () => {
  let metadata: ModelMetadata;
  let app: FastifyInstance;
  beforeAll(async () => {
    metadata = await readMetadata(SHIPPED_MODEL);
    app = await buildApp();
  });
  afterAll(async () => {
    await app.close();
  });

  it('records its budget, and the budget is what the model computes', async () => {
    const model = await loadModelFromDir(SHIPPED_MODEL);
    const c = computeComplexity(model);
    model.dispose();
    expect(metadata.parameters).toBe(c.parameters);
    expect(metadata.multiplyAdds).toBe(c.multiplyAdds);
    expect(c.parameters).toBeLessThanOrEqual(2_000_000);
    expect(c.multiplyAdds).toBeLessThanOrEqual(80_000_000);
  });

  it('records validation accuracy of at least 85% on a held-out split, and how it was trained', () => {
    expect(metadata.validation?.accuracy).toBeGreaterThanOrEqual(0.85);
    expect(metadata.validation?.images).toBe(5000);
    expect(metadata.labels).toEqual([...LABELS]);
    expect(metadata.training).toMatchObject({ seed: expect.any(Number), epochs: expect.any(Number), backend: expect.any(String), wallSeconds: expect.any(Number) });
  });

  it('is a few MB at most', () => {
    const manifest = JSON.parse(readFileSync(join(SHIPPED_MODEL, 'model.json'), 'utf8')) as { weightsManifest: { paths: string[] }[] };
    const bytes = manifest.weightsManifest.flatMap((g) => g.paths).reduce((a, p) => a + statSync(join(SHIPPED_MODEL, p)).size, 0);
    expect(bytes).toBeLessThan(5 * 1024 * 1024);
  });

  it('classifies held-out real photos through HTTP (at least 8 of 10 labels)', async () => {
    const results = await Promise.all(
      LABELS.map(async (label) => {
        const res = await request(app.server).post('/predict').attach('file', photo(label), `${label}.jpg`);
        expect(res.status).toBe(200);
        return res.body.class_label === label;
      }),
    );
    expect(results.filter(Boolean).length).toBeGreaterThanOrEqual(8);
  });
});
