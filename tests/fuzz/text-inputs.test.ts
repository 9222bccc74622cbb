/**
 * Bad text inputs, each a clear 4xx problem (or, where documented, an answer with a warning)
 * with nothing else affected: the server answers a normal text afterwards, and every bad
 * input is answered (no hang) whatever its size. Then random texts and bytes through every
 * body form: never a 5xx.
 */
import type { FastifyInstance } from 'fastify';
import fc from 'fast-check';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../helpers/app.js';

const MAX_TEXT_BYTES = 64 * 1024;

const predict = (app: FastifyInstance) => request(app.server).post('/v1/models/spam/predict');

function email(headers: string, body: string): Buffer {
  return Buffer.from(`From: someone@example.org\nTo: you@example.org\nSubject: test\n${headers}\n${body}`);
}

describe('bad text inputs', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await buildApp({ MAX_TEXT_BYTES: String(MAX_TEXT_BYTES), CACHE_MAX_ENTRIES: '0', MAX_BATCH_FILES: '8' });
  });
  afterAll(() => app.close());

  async function expectProblem(res: request.Response, status: number, slug: string, detail: RegExp): Promise<void> {
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.type).toMatch(new RegExp(`[:/]${slug}$`));
    expect(res.body.detail).toMatch(detail);
    // Nothing else affected: a normal text is answered right after.
    const ok = await predict(app).send({ text: 'Thanks for the notes from the meeting; see you on Tuesday.' });
    expect(ok.status).toBe(200);
  }

  it('empty and whitespace-only text', async () => {
    await expectProblem(await predict(app).send({ text: '' }), 400, 'empty-text', /the text is empty/);
    await expectProblem(await predict(app).send({ text: ' \n\t ' }), 400, 'empty-text', /only whitespace/);
    await expectProblem(await predict(app).set('content-type', 'text/plain').send('   '), 400, 'empty-text', /only whitespace/);
  });

  it('text over MAX_TEXT_BYTES, in JSON, text/plain and message/rfc822', async () => {
    const long = 'word '.repeat(MAX_TEXT_BYTES / 5 + 1);
    await expectProblem(await predict(app).send({ text: long }), 413, 'text-too-large', /MAX_TEXT_BYTES is 65536/);
    await expectProblem(await predict(app).set('content-type', 'text/plain').send(long), 413, 'text-too-large', /MAX_TEXT_BYTES/);
    await expectProblem(await predict(app).set('content-type', 'message/rfc822').send(email('', long)), 413, 'text-too-large', /e-mail is \d+ bytes/);
  });

  it('a million one-letter tokens: refused by size, or read up to the token limit with a warning', async () => {
    const million = 'a '.repeat(1_000_000);
    await expectProblem(await predict(app).send({ text: million }), 413, 'text-too-large', /MAX_TEXT_BYTES/);
    const roomy = await buildApp({ MAX_TEXT_BYTES: String(4 * 1024 * 1024), CACHE_MAX_ENTRIES: '0' });
    try {
      const res = await predict(roomy).send({ text: million });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.warnings).toEqual([expect.stringMatching(/more than 20000 tokens; only the first 20000 were read/)]);
    } finally {
      await roomy.close();
    }
  });

  it('invalid UTF-8: refused in a text/plain body, replaced (and reported) in JSON', async () => {
    const bytes = Buffer.concat([Buffer.from('free money '), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from(' now')]);
    await expectProblem(await predict(app).set('content-type', 'text/plain').send(bytes), 400, 'invalid-utf8', /not valid utf-8 \(at byte 11\)/);
    const json = Buffer.concat([Buffer.from('{"text": "free money '), Buffer.from([0xff, 0xfe]), Buffer.from(' now"}')]);
    // As bytes (superagent would serialize a Buffer into JSON of its own).
    const res = await predict(app).set('content-type', 'application/json').serialize((raw: unknown) => raw as string).send(json);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.warnings).toEqual([expect.stringMatching(/2 U\+FFFD replacement characters/)]);
    await expectProblem(await predict(app).set('content-type', 'text/plain; charset=klingon').send('hello'), 415, 'unsupported-charset', /charset 'klingon'/);
  });

  it('unpaired surrogates and NUL characters', async () => {
    await expectProblem(await predict(app).set('content-type', 'application/json').send('{"text": "hello \\ud800 there"}'), 400, 'invalid-unicode', /unpaired/);
    await expectProblem(await predict(app).send({ text: 'hello\u0000there' }), 400, 'nul-character', /NUL/);
    await expectProblem(await predict(app).set('content-type', 'message/rfc822').send(email('', 'hi\u0000')), 400, 'nul-character', /NUL bytes/);
  });

  it('an e-mail with thousands of MIME parts, or nested too deep', async () => {
    const parts = Array.from({ length: 1200 }, (_, i) => `--B\nContent-Type: text/plain\n\npart ${i}\n`).join('');
    await expectProblem(await predict(app).set('content-type', 'message/rfc822').send(email('Content-Type: multipart/mixed; boundary=B\n', `${parts}--B--\n`)), 422, 'email-too-complex', /declares 1201 MIME parts; at most 1000/);
    const nested = Array.from({ length: 40 }, (_, i) => `Content-Type: multipart/mixed; boundary=N${i}\n\n--N${i}\n`).join('');
    await expectProblem(await predict(app).set('content-type', 'message/rfc822').send(email(nested, 'deep')), 422, 'email-too-complex', /nesting depth/);
  });

  it('a base64 part: the e-mail is bounded before anything is decoded, and base64 always decodes smaller', async () => {
    const part = (text: string): Buffer =>
      email('Content-Type: multipart/mixed; boundary=B\n', `--B\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n${Buffer.from(text).toString('base64').replace(/.{76}/g, '$&\n')}\n--B--\n`);
    await expectProblem(await predict(app).set('content-type', 'message/rfc822').send(part('spam '.repeat(20_000))), 413, 'text-too-large', /the e-mail is \d+ bytes; MAX_TEXT_BYTES is 65536/);
    const small = await predict(app).set('content-type', 'message/rfc822').send(part('You have been selected to receive a FREE prize! Click here to claim it now. '.repeat(20)));
    expect(small.status, JSON.stringify(small.body)).toBe(200);
    expect(small.body.class_label).toBe('spam');
  });

  it('HTML nested deeper than the pipeline reads', async () => {
    const deep = `<html><body>${'<div>'.repeat(3000)}win${'</div>'.repeat(3000)}</body></html>`;
    await expectProblem(await predict(app).send({ text: deep }), 422, 'email-too-complex', /HTML nests elements deeper than 256 levels/);
    await expectProblem(await predict(app).set('content-type', 'message/rfc822').send(email('Content-Type: text/html\n', deep)), 422, 'email-too-complex', /deeper than 256/);
  });

  it('a batch over MAX_BATCH_FILES, and bodies a text model does not take', async () => {
    await expectProblem(await request(app.server).post('/v1/models/spam/predict/batch').send({ instances: Array(9).fill('hello') }), 413, 'payload-too-large', /at most 8 texts/);
    await expectProblem(await predict(app).set('content-type', 'image/png').send(Buffer.from('not an image')), 415, 'unsupported-media-type', /application\/json, text\/plain or message\/rfc822/);
    await expectProblem(await predict(app).attach('file', Buffer.from('hello'), 'a.txt'), 415, 'unsupported-media-type', /multipart/);
    await expectProblem(await predict(app).send({ texts: ['hello'] }), 400, 'invalid-body', /\{"text": "<text>"\} or \{"input": "<text>"\}/);
    await expectProblem(await predict(app).send({ text: 7 }), 400, 'invalid-body', /"text" must be a string/);
  });

  it('random text and bytes through every body form: an answer or a 4xx, never a 5xx', async () => {
    const text = fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 300 }), fc.constantFrom('From: x\n\n', 'Subject: \n\n<html>', '<html><body>', '=?utf-8?B?AAAA?=', 'Content-Type: multipart/mixed; boundary=""\n\n--\n'));
    const bytes = fc.uint8Array({ maxLength: 400 });
    await fc.assert(
      fc.asyncProperty(fc.oneof(text.map((t) => ({ json: t })), text.map((t) => ({ plain: t })), bytes.map((b) => ({ rfc822: b }))), async (input) => {
        const res =
          'json' in input
            ? await predict(app).send({ text: input.json })
            : 'plain' in input
              ? await predict(app).set('content-type', 'text/plain').send(input.plain)
              : await predict(app).set('content-type', 'message/rfc822').send(Buffer.from(input.rfc822));
        expect(res.status, JSON.stringify(res.body)).toBeLessThan(500);
        if (res.status === 200) expect(['ham', 'spam']).toContain(res.body.class_label);
        else expect(res.body.detail).toEqual(expect.any(String));
      }),
      { numRuns: 150, seed: 24 },
    );
  });
});
