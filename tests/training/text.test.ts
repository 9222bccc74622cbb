/**
 * The text trainer on a few generated messages (no ../shared): cross-validation, a held-out
 * report, the same weights for the same seed, a checkpoint that resumes, and a version folder
 * the server serves.
 */
import { mkdtemp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { overlaps } from '../../src/training/evaluation.js';
import { HEADER_SETS, trainText, writeTextVersion, type TextTrainOptions } from '../../src/training/text/train.js';
import { buildApp } from '../helpers/app.js';

const SPAM_WORDS = ['free', 'offer', 'money', 'click', 'winner', 'prize', 'credit', 'cheap', 'viagra', 'mortgage', 'guaranteed', 'limited'];
const HAM_WORDS = ['patch', 'kernel', 'meeting', 'thanks', 'build', 'release', 'list', 'config', 'test', 'review', 'cvs', 'bug'];

/** A corpus laid out as SpamAssassin's: folders named for their label, one raw message per file. */
async function makeCorpus(perLabel: number): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'mail-corpus-'));
  for (const [folder, words, from] of [
    ['easy-ham-1', HAM_WORDS, 'dev@lists.example.org'],
    ['spam-1', SPAM_WORDS, 'deals@offers.example'],
  ] as const) {
    await mkdir(join(root, folder));
    for (let i = 0; i < perLabel; i++) {
      const body = Array.from({ length: 30 }, (_, k) => words[(i * 7 + k * 5) % words.length]).join(' ');
      await writeFile(join(root, folder, `${String(i).padStart(4, '0')}.txt`), `From: ${from}\nTo: you@example.org\nSubject: ${words[i % words.length]} ${words[(i + 3) % words.length]}\n\n${body}\n`, 'latin1');
    }
  }
  return root;
}

describe('text trainer', () => {
  let opts: TextTrainOptions;
  beforeAll(async () => {
    opts = {
      data: await makeCorpus(15),
      seed: 7,
      folds: 2,
      testFraction: 0.2,
      calibrationFraction: 0.2,
      maxFeatures: 500,
      minDf: 1,
      maxTokens: 1000,
      maxHamAsSpam: 0.05,
      grid: [
        { headers: HEADER_SETS.subject, scope: false, ngrams: 1, model: { family: 'logistic', l2: 1e-4, epochs: 30 } },
        { headers: HEADER_SETS.all, scope: true, ngrams: 2, model: { family: 'bayes', alpha: 0.1 } },
      ],
      command: 'test',
      cacheDir: await mkdtemp(join(tmpdir(), 'train-text-cache-')),
      log: () => {},
    };
  });

  it('chooses by cross-validation, reports once on the held-out split, and gives the same weights for the same seed', async () => {
    const lines: string[] = [];
    const first = await trainText({ ...opts, log: (l) => lines.push(l) });
    expect(lines.some((l) => l.startsWith('[cv 4/4]'))).toBe(true);
    const cv = first.metadata.crossValidation as { folds: number; tried: unknown[]; chosen: { variant: string } };
    expect(cv.folds).toBe(2);
    expect(cv.tried).toHaveLength(2);
    const validation = first.metadata.validation as { whole: { messages: number; accuracy: number; confusion: number[][] }; body: { accuracy: number } };
    expect(validation.whole.messages).toBe(6);
    expect(validation.whole.confusion.flat().reduce((a, b) => a + b, 0)).toBe(6);
    expect(validation.whole.accuracy).toBe(1);
    expect(first.metadata.training).toMatchObject({ seed: 7, command: 'test', messages: 20, calibrationMessages: 4 });
    // Every message in one part only: training (and cross-validation), calibration, or the report.
    expect(overlaps(first.splits)).toEqual([]);
    expect([first.splits.train.length, first.splits.calibration!.length, first.splits.test.length]).toEqual([20, 4, 6]);
    expect(first.metadata.calibration?.temperature).toBeGreaterThan(0);

    // Resumed from the checkpoint: no fit runs again, and the result is the same.
    const again: string[] = [];
    const second = await trainText({ ...opts, log: (l) => again.push(l) });
    expect(again.some((l) => l.startsWith('resuming: 4/4'))).toBe(true);
    expect(again.some((l) => l.startsWith('[cv'))).toBe(false);
    expect(second.model.weights).toEqual(first.model.weights);
    expect(second.vocabulary.terms).toEqual(first.vocabulary.terms);
  });

  it('writes a version the server serves', async () => {
    const trained = await trainText(opts);
    const repository = await mkdtemp(join(tmpdir(), 'text-repo-'));
    const dir = await writeTextVersion(repository, 'mail', '1', trained);
    const metadata = JSON.parse(await readFile(join(dir, 'metadata.json'), 'utf8')) as { kind: string };
    expect(metadata.kind).toBe('text-classifier');
    const app = await buildApp({ MODEL_REPOSITORY: repository, DEFAULT_MODEL: 'mail' });
    try {
      const res = await request(app.server).post('/v1/models/mail/predict').send({ text: 'free money offer, click to claim your prize' });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.class_label).toBe('spam');
    } finally {
      await app.close();
    }
  });
});
