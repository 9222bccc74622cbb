/** The model in models/cifar10 is what metadata says it is, and classifies real photos. */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeComplexity } from '../../src/training/complexity.js';
import { loadModelFromDir } from '../../src/runtimes/tfjs/model-files.js';
import { readImageMetadata, type ImageMetadata } from '../../src/kinds/image/metadata.js';
import { SHIPPED_MODEL, buildApp } from '../helpers/app.js';
import { LABELS } from '../helpers/images.js';

describe('shipped model', () => {
  let metadata: ImageMetadata;
  let app: FastifyInstance;
  beforeAll(async () => {
    metadata = await readImageMetadata(SHIPPED_MODEL);
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

  it('classifies 100 held-out real photos through HTTP, at least 75 correctly', async () => {
    let correct = 0;
    for (const label of LABELS) {
      const dir = join(import.meta.dirname, '..', 'fixtures', 'holdout', label);
      let req = request(app.server).post('/predict/batch');
      for (const f of readdirSync(dir).sort()) req = req.attach('files', readFileSync(join(dir, f)), f);
      const res = await req;
      expect(res.status).toBe(200);
      expect(res.body.predictions).toHaveLength(10);
      correct += res.body.predictions.filter((p: { class_label: string }) => p.class_label === label).length;
    }
    // 84 of these 100 at the time of shipping; 75 leaves room for a retrained model.
    expect(correct).toBeGreaterThanOrEqual(75);
  });
});
