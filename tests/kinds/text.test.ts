/**
 * The text-classifier kind through real HTTP with the shipped spam filter (models/spam/1):
 * the three native body forms, batches, the prediction cache, the Open Inference Protocol in
 * JSON and binary, and explanations whose spans index the submitted text exactly.
 */
import type { FastifyInstance } from 'fastify';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../helpers/app.js';
import { serializeBytes } from '../helpers/open-inference.js';
import { HAM_EMAIL, HAM_TEXT, SPAM_EMAIL, SPAM_TEXT } from '../helpers/text.js';
import { seededRandom, shuffled } from '../../src/training/tabular.js';

interface Prediction {
  class_label: string;
  class_index: number;
  confidence: number;
  probabilities: number[];
  top_k: { label: string; probability: number }[];
  cached: boolean;
  warnings?: string[];
  model: { name: string; version: string };
  latency_ms: number;
}

describe('text classifier (the shipped spam filter)', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await buildApp();
  });
  afterAll(() => app.close());

  const predict = () => request(app.server).post('/v1/models/spam/predict');

  function expectAnswer(body: Prediction, label: 'ham' | 'spam'): void {
    expect(body.class_label).toBe(label);
    expect(body.class_index).toBe(label === 'ham' ? 0 : 1);
    expect(body.probabilities).toHaveLength(2);
    expect(body.probabilities[0]! + body.probabilities[1]!).toBeCloseTo(1, 5);
    expect(body.confidence).toBe(Math.max(...body.probabilities));
    expect(body.confidence).toBeGreaterThan(0.5);
    expect(body.top_k[0]!.label).toBe(label);
    expect(body.model).toEqual({ name: 'spam', version: '1' });
    expect(typeof body.latency_ms).toBe('number');
    expect(typeof body.cached).toBe('boolean');
  }

  it('answers {"text"} and {"input"} JSON with the classifier fields every kind has', async () => {
    const spam = await predict().send({ text: SPAM_TEXT });
    expect(spam.status, JSON.stringify(spam.body)).toBe(200);
    expectAnswer(spam.body as Prediction, 'spam');
    const ham = await predict().send({ input: HAM_TEXT });
    expect(ham.status, JSON.stringify(ham.body)).toBe(200);
    expectAnswer(ham.body as Prediction, 'ham');
  });

  it('answers a text/plain body, and a whole e-mail as message/rfc822 or as text', async () => {
    const plain = await predict().set('content-type', 'text/plain; charset=utf-8').send(SPAM_TEXT);
    expect(plain.status, JSON.stringify(plain.body)).toBe(200);
    expectAnswer(plain.body as Prediction, 'spam');
    for (const [email, label] of [
      [SPAM_EMAIL, 'spam'],
      [HAM_EMAIL, 'ham'],
    ] as const) {
      const raw = await predict().set('content-type', 'message/rfc822').send(email);
      expect(raw.status, JSON.stringify(raw.body)).toBe(200);
      expectAnswer(raw.body as Prediction, label);
      // The same message sent as JSON text is detected as an e-mail and answered alike.
      const json = await predict().send({ text: email.toString('latin1') });
      expect(json.status).toBe(200);
      expect((json.body as Prediction).class_label).toBe(label);
    }
  });

  it('answers an HTML document with no text (images only) with a warning, as the trainer scored it', async () => {
    const res = await predict().send({ text: '<html><body><img src="offer.gif"><br><table><tr><td><img src="sale.gif"></td></tr></table></body></html>' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect((res.body as Prediction).warnings).toEqual(["the HTML holds no text (only markup or images): the answer is the model's answer to an empty text"]);
  });

  it('text/plain in another declared charset is decoded by it', async () => {
    const latin1 = Buffer.from(`${HAM_TEXT} Ça marche, merci.`, 'latin1');
    const res = await predict().set('content-type', 'text/plain; charset=iso-8859-1').send(latin1);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect((res.body as Prediction).class_label).toBe('ham');
  });

  it('answers a batch in request order; a bad entry fails alone', async () => {
    const res = await request(app.server)
      .post('/v1/models/spam/predict/batch')
      .send({ instances: [SPAM_TEXT, { text: HAM_TEXT }, 42, '   '] });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const [spam, ham, number, blank] = res.body.predictions as (Prediction & { index: number; error?: { status: number; detail: string } })[];
    expect(spam!.class_label).toBe('spam');
    expect(ham!.class_label).toBe('ham');
    expect(number!.error).toMatchObject({ status: 400, detail: 'instances[2] must be a string, or {"text": "<text>"}' });
    expect(blank!.error).toMatchObject({ status: 400, detail: 'the text is only whitespace' });
  });

  it('answers a repeated text from the cache, with the same answer', async () => {
    const text = `${HAM_TEXT} (cache check)`;
    const first = await predict().send({ text });
    const second = await predict().send({ text });
    expect(first.headers['x-cache']).toBe('MISS');
    expect(second.headers['x-cache']).toBe('HIT');
    expect((second.body as Prediction).cached).toBe(true);
    expect((second.body as Prediction).probabilities).toEqual((first.body as Prediction).probabilities);
    // The same bytes as an e-mail are another input (read differently).
    const asEmail = await predict().set('content-type', 'message/rfc822').send(Buffer.from(text));
    expect(asEmail.headers['x-cache']).toBe('MISS');
  });

  it('reports the pipeline and the held-out figures in GET /v1/models/spam', async () => {
    const res = await request(app.server).get('/v1/models/spam');
    expect(res.status).toBe(200);
    expect(res.body.kind).toBe('text-classifier');
    const metadata = res.body.metadata as { labels: string[]; text: Record<string, unknown>; validation: Record<string, { accuracy: number; confusion: number[][] }> };
    expect(metadata.labels).toEqual(['ham', 'spam']);
    expect(metadata.text).toMatchObject({ tokenizer: { type: 'words' }, features: { weighting: 'tfidf' } });
    expect(metadata.validation.whole!.accuracy).toBeGreaterThan(0.9);
    expect(metadata.validation.body!.confusion).toHaveLength(2);
  });

  describe('Open Inference Protocol', () => {
    it('lists text BYTES [-1] in and probabilities FP32 [-1, 2], label BYTES [-1] out', async () => {
      const res = await request(app.server).get('/v2/models/spam');
      expect(res.status).toBe(200);
      expect(res.body.inputs).toEqual([{ name: 'text', datatype: 'BYTES', shape: [-1] }]);
      expect(res.body.outputs).toEqual([
        { name: 'probabilities', datatype: 'FP32', shape: [-1, 2] },
        { name: 'label', datatype: 'BYTES', shape: [-1] },
      ]);
    });

    it('infers JSON strings', async () => {
      const res = await request(app.server)
        .post('/v2/models/spam/infer')
        .send({ id: 'text-1', inputs: [{ name: 'text', datatype: 'BYTES', shape: [2], data: [SPAM_TEXT, HAM_TEXT] }] });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.id).toBe('text-1');
      const outputs = res.body.outputs as { name: string; shape: number[]; data: (number | string)[] }[];
      expect(outputs.find((o) => o.name === 'label')!.data).toEqual(['spam', 'ham']);
      expect(outputs.find((o) => o.name === 'probabilities')!.shape).toEqual([2, 2]);
    });

    it('infers binary length-prefixed UTF-8 elements, and refuses invalid UTF-8 in one', async () => {
      const data = serializeBytes([Buffer.from(HAM_TEXT), Buffer.from(SPAM_TEXT)]);
      const json = Buffer.from(JSON.stringify({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [2], parameters: { binary_data_size: data.length } }], outputs: [{ name: 'label' }] }));
      const res = await request(app.server)
        .post('/v2/models/spam/infer')
        .set('content-type', 'application/octet-stream')
        .set('inference-header-content-length', String(json.length))
        .send(Buffer.concat([json, data]));
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect((res.body.outputs as { data: string[] }[])[0]!.data).toEqual(['ham', 'spam']);

      const bad = serializeBytes([Buffer.from([0x68, 0xc3, 0x28])]);
      const badJson = Buffer.from(JSON.stringify({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [1], parameters: { binary_data_size: bad.length } }] }));
      const refused = await request(app.server)
        .post('/v2/models/spam/infer')
        .set('content-type', 'application/octet-stream')
        .set('inference-header-content-length', String(badJson.length))
        .send(Buffer.concat([badJson, bad]));
      expect(refused.status).toBe(400);
      expect(refused.body.error).toMatch(/not valid UTF-8/);
    });
  });

  describe('explanations', () => {
    interface TextExplanation {
      method: string;
      class_label: string;
      target: string;
      value: number;
      baseline_value: number;
      form: string;
      spans: string;
      text?: string;
      tokens: { token: string; start: number; end: number; attribution: number }[];
      top_features: { term: string; attribution: number }[];
      evaluations: number;
    }
    const explain = (body: object, query = '') => request(app.server).post(`/v1/models/spam/explain${query}`).send(body);

    it('gives each token an attribution with its span in the submitted text; they add up (a linear model)', async () => {
      const res = await explain({ text: SPAM_TEXT });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const body = res.body as TextExplanation;
      expect(body).toMatchObject({ method: 'leave-one-out', class_label: 'spam', target: 'spam', form: 'text', spans: 'submitted' });
      expect(body.tokens.length).toBeGreaterThan(10);
      for (const t of body.tokens) expect(SPAM_TEXT.slice(t.start, t.end)).toBe(t.token);
      const total = body.tokens.reduce((a, t) => a + t.attribution, 0);
      expect(total).toBeCloseTo(body.value - body.baseline_value, 2);
      expect(body.top_features[0]!.attribution).not.toBe(0);
    });

    it('explains another class with ?target=, with the opposite attributions', async () => {
      const spam = (await explain({ text: SPAM_TEXT })).body as TextExplanation;
      const ham = (await explain({ text: SPAM_TEXT }, '?target=ham')).body as TextExplanation;
      expect(ham.target).toBe('ham');
      expect(ham.value).toBeCloseTo(-spam.value, 3);
    });

    it('indexes the text read from an e-mail', async () => {
      const res = await request(app.server).post('/v1/models/spam/explain').set('content-type', 'message/rfc822').send(SPAM_EMAIL);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const body = res.body as TextExplanation;
      expect(body.form).toBe('email');
      expect(body.spans).toBe('text');
      expect(body.text).toContain('claim your prize');
      for (const t of body.tokens) expect(body.text!.slice(t.start, t.end)).toBe(t.token);
    });

    it('is faithful: deleting the words that pushed most toward spam lowers spam more than deleting as many chosen at random', async () => {
      const body = (await explain({ text: SPAM_TEXT })).body as TextExplanation;
      const byAttribution = [...body.tokens].sort((a, b) => b.attribution - a.attribution);
      const k = 8;
      const cut = (tokens: typeof body.tokens): string => {
        let text = SPAM_TEXT;
        for (const t of [...tokens].sort((a, b) => b.start - a.start)) text = text.slice(0, t.start) + text.slice(t.end);
        return text;
      };
      const spamProbability = async (text: string): Promise<number> => ((await predict().send({ text })).body as Prediction).probabilities[1]!;
      const before = await spamProbability(SPAM_TEXT);
      const top = await spamProbability(cut(byAttribution.slice(0, k)));
      // Five random sets of as many tokens (seeded), for comparison.
      const random = seededRandom(7);
      const others: number[] = [];
      for (let i = 0; i < 5; i++) others.push(await spamProbability(cut(shuffled(body.tokens, random).slice(0, k))));
      expect(top).toBeLessThan(before);
      expect(top).toBeLessThan(Math.min(...others));
    });
  });
});
