/** Self-healing start: a version folder with a training recipe and no weights is trained at load. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../helpers/app.js';
import { TempRepository, versionStates } from '../helpers/repository.js';

describe('MODEL_AUTOTRAIN', () => {
  const repos: TempRepository[] = [];
  afterAll(() => repos.forEach((r) => r.dispose()));

  const withRecipe = (recipe: unknown): TempRepository => {
    const repo = new TempRepository();
    repos.push(repo);
    repo.publish('cifar10', '1');
    mkdirSync(join(repo.root, 'flowers', '1'), { recursive: true });
    writeFileSync(join(repo.root, 'flowers', '1', 'train.json'), JSON.stringify(recipe));
    return repo;
  };

  it('trains a recipe at load when on, writes the files into the folder, and serves it', { timeout: 120_000 }, async () => {
    const repo = withRecipe({ dataset: 'iris', family: 'logistic-regression', seed: 42 });
    const app = await buildApp({ MODEL_REPOSITORY: repo.root, MODEL_AUTOTRAIN: 'true' });
    try {
      expect(await versionStates(app, 'flowers')).toEqual([{ version: '1', state: 'AVAILABLE' }]);
      const res = await request(app.server).post('/v1/models/flowers/predict').send({ features: [5.1, 3.5, 1.4, 0.2] });
      expect(res.status).toBe(200);
      expect(res.body.class_label).toBe('setosa');
      const dir = join(repo.root, 'flowers', '1');
      expect(existsSync(join(dir, 'model.json'))).toBe(true);
      const metadata = JSON.parse(readFileSync(join(dir, 'metadata.json'), 'utf8'));
      expect(metadata.kind).toBe('tabular-classifier');
      expect(metadata.training.command).toMatch(/MODEL_AUTOTRAIN/);
      expect(metadata.validation.accuracy).toBeGreaterThan(0.9);
    } finally {
      await app.close();
    }
  });

  it('is off by default: the version is FAILED with the reason; a bad recipe is FAILED with its own', { timeout: 120_000 }, async () => {
    const off = await buildApp({ MODEL_REPOSITORY: withRecipe({ dataset: 'iris' }).root });
    try {
      expect(await versionStates(off, 'flowers')).toEqual([
        { version: '1', state: 'FAILED', reason: 'the version holds a training recipe (train.json) but no weights; set MODEL_AUTOTRAIN=true to train it at load' },
      ]);
      expect((await request(off.server).get('/ready')).status).toBe(200);
    } finally {
      await off.close();
    }
    const bad = await buildApp({ MODEL_REPOSITORY: withRecipe({ dataset: 'wine-quality', data: '../../etc/passwd' }).root, MODEL_AUTOTRAIN: 'true' });
    try {
      const [state] = await versionStates(bad, 'flowers');
      expect(state?.state).toBe('FAILED');
      expect(state?.reason).toMatch(/^train\.json is invalid: .*a file inside the version folder/);
    } finally {
      await bad.close();
    }
  });
});
