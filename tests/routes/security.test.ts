/** API keys, rate limits, security headers, CORS and load shedding, through HTTP on the real app. */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../helpers/app.js';
import * as img from '../helpers/images.js';
import { RedisServer } from '../helpers/redis.js';

const KEY_A = 'key-a-0123456789abcdef';
const KEY_B = 'key-b-0123456789abcdef';

function expectProblem(res: request.Response, status: number, slug: string): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ type: `urn:ml-inference-api:problem:${slug}`, status });
  expect(res.body.request_id).toEqual(expect.any(String));
}

const predict = (app: FastifyInstance) => request(app.server).post('/predict').attach('file', img.photo('cat'), 'cat.jpg');

describe('API keys', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await buildApp({ API_KEYS: `${KEY_A}, ${KEY_B}` });
  });
  afterAll(async () => {
    await app.close();
  });

  it('refuses /predict without a key: 401, WWW-Authenticate and the problem shape', async () => {
    const res = await predict(app);
    expectProblem(res, 401, 'unauthorized');
    expect(res.headers['www-authenticate']).toBe('Bearer realm="ml-inference-api"');
  });

  it('refuses a wrong key, and a key that is only a prefix of a real one', async () => {
    for (const key of ['wrong-key-0123456789', KEY_A.slice(0, -1), `${KEY_A}x`]) {
      const res = await predict(app).set('Authorization', `Bearer ${key}`);
      expectProblem(res, 401, 'unauthorized');
      expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
    }
  });

  it('accepts a configured key as a bearer token or as X-API-Key, on /predict and /predict/batch', async () => {
    expect((await predict(app).set('Authorization', `Bearer ${KEY_A}`)).status).toBe(200);
    expect((await predict(app).set('X-API-Key', KEY_B)).status).toBe(200);
    const batch = await request(app.server).post('/predict/batch').set('X-API-Key', KEY_A).attach('files', img.photo('dog'), 'dog.jpg');
    expect(batch.status).toBe(200);
    expectProblem(await request(app.server).post('/predict/batch').attach('files', img.photo('dog'), 'dog.jpg'), 401, 'unauthorized');
  });

  it('leaves probes open and protects /metrics', async () => {
    expect((await request(app.server).get('/health')).status).toBe(200);
    expect((await request(app.server).get('/ready')).status).toBe(200);
    expectProblem(await request(app.server).get('/metrics'), 401, 'unauthorized');
    expect((await request(app.server).get('/metrics').set('X-API-Key', KEY_A)).status).toBe(200);
  });

  it('declares the security schemes on the protected operations only, so Swagger UI can authorize', () => {
    const doc = app.swagger() as unknown as {
      components: { securitySchemes: Record<string, unknown> };
      paths: Record<string, Record<string, { security?: unknown[] }>>;
    };
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['apiKeyAuth', 'bearerAuth']);
    expect(doc.paths['/predict']!.post!.security).toEqual([{ bearerAuth: [] }, { apiKeyAuth: [] }]);
    expect(doc.paths['/predict/batch']!.post!.security).toEqual([{ bearerAuth: [] }, { apiKeyAuth: [] }]);
    expect(doc.paths['/metrics']!.get!.security).toBeDefined();
    expect(doc.paths['/health']!.get!.security).toBeUndefined();
  });
});

describe('API key configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keys-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads keys from API_KEYS_FILE (one per line, # comments) and can leave /metrics public', async () => {
    const file = join(dir, 'keys');
    writeFileSync(file, `# service keys\n${KEY_B}\n\n`);
    const app = await buildApp({ API_KEYS_FILE: file, METRICS_PUBLIC: 'true' });
    try {
      expect((await predict(app).set('X-API-Key', KEY_B)).status).toBe(200);
      expect((await predict(app).set('X-API-Key', '# service keys')).status).toBe(401);
      expect((await request(app.server).get('/metrics')).status).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('refuses to start with a key shorter than 16 characters', async () => {
    await expect(buildApp({ API_KEYS: 'short' }, false)).rejects.toThrow(/shorter than 16/);
  });
});

describe('rate limits', () => {
  let app: FastifyInstance | undefined;
  let other: FastifyInstance | undefined;
  let redis: RedisServer | undefined;
  afterEach(async () => {
    await app?.close();
    await other?.close();
    app = other = undefined;
  });
  afterAll(async () => {
    await redis?.kill();
  });

  it('answers 429 with Retry-After and rate-limit headers past RATE_LIMIT_MAX; probes are exempt', async () => {
    app = await buildApp({ RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW: '1 minute' });
    for (let i = 0; i < 3; i++) {
      const res = await predict(app);
      expect(res.status).toBe(200);
      expect(res.headers['x-ratelimit-limit']).toBe('3');
      expect(res.headers['x-ratelimit-remaining']).toBe(String(2 - i));
    }
    const limited = await predict(app);
    expectProblem(limited, 429, 'rate-limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    for (let i = 0; i < 10; i++) {
      expect((await request(app.server).get('/health')).status).toBe(200);
      expect((await request(app.server).get('/ready')).status).toBe(200);
    }
  });

  it('counts per API key: one client exhausting its limit does not block another', async () => {
    app = await buildApp({ API_KEYS: `${KEY_A},${KEY_B}`, RATE_LIMIT_MAX: '2' });
    expect((await predict(app).set('X-API-Key', KEY_A)).status).toBe(200);
    expect((await predict(app).set('X-API-Key', KEY_A)).status).toBe(200);
    expectProblem(await predict(app).set('X-API-Key', KEY_A), 429, 'rate-limited');
    expect((await predict(app).set('X-API-Key', KEY_B)).status).toBe(200);
  });

  it('shares counters between replicas through Redis, and lets requests through while Redis is down', async () => {
    redis = await RedisServer.start();
    const env = { REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'test-rl:', RATE_LIMIT_MAX: '3' };
    app = await buildApp(env);
    other = await buildApp(env);
    expect((await predict(app)).status).toBe(200);
    expect((await predict(other)).status).toBe(200);
    expect((await predict(app)).status).toBe(200);
    expectProblem(await predict(other), 429, 'rate-limited');

    await redis.kill();
    const during = await Promise.all([predict(app), predict(other)]);
    expect(during.map((r) => r.status)).toEqual([200, 200]);
  });
});

describe('security headers and CORS', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('sends helmet headers with a strict content security policy on API routes', async () => {
    app = await buildApp();
    const res = await request(app.server).get('/health');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('serves Swagger UI under a policy that allows exactly its own scripts and styles', async () => {
    app = await buildApp();
    const page = await request(app.server).get('/docs/');
    expect(page.status).toBe(200);
    const csp = String(page.headers['content-security-policy']);
    const directive = (name: string) => csp.split(';').map((d) => d.trim()).find((d) => d.startsWith(`${name} `)) ?? '';
    // Every script the page loads is same-origin and every inline script is allowed by hash.
    for (const [, src] of page.text.matchAll(/<script[^>]*src="([^"]+)"/g)) {
      expect(src!.startsWith('./') || src!.startsWith('/')).toBe(true);
      expect((await request(app.server).get(`/docs/${src!.replace(/^\.\//, '')}`)).status).toBe(200);
    }
    expect(directive('script-src')).toContain("'self'");
    const scripts = [...page.text.matchAll(/<script[^>]*src="([^"]+)"/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, body] of page.text.matchAll(/<script(?![^>]*src=)[^>]*>([\s\S]*?)<\/script>/g)) {
      const hash = createHash('sha256').update(body!).digest('base64');
      expect(directive('script-src')).toContain(`'sha256-${hash}'`);
    }
    const init = await request(app.server).get('/docs/static/swagger-initializer.js');
    expect(init.status).toBe(200);
  });

  it('answers CORS preflights for CORS_ORIGINS only', async () => {
    app = await buildApp({ CORS_ORIGINS: 'https://app.example.com' });
    const ok = await request(app.server)
      .options('/predict')
      .set('Origin', 'https://app.example.com')
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'authorization');
    expect(ok.status).toBe(204);
    expect(ok.headers['access-control-allow-origin']).toBe('https://app.example.com');
    expect(ok.headers['access-control-allow-headers']).toMatch(/authorization/i);
    const other = await request(app.server).get('/health').set('Origin', 'https://evil.example.com');
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    const exposed = await request(app.server).get('/health').set('Origin', 'https://app.example.com');
    expect(exposed.headers['access-control-expose-headers']).toMatch(/X-Request-Id/);
  });
});

describe('load shedding', () => {
  it('answers /predict with 503 + Retry-After past the memory limit while /health, /ready and /metrics answer', async () => {
    const app = await buildApp({ MAX_HEAP_USED_BYTES: '1' });
    try {
      await new Promise((r) => setTimeout(r, 300)); // a sample has been taken
      const res = await predict(app);
      expectProblem(res, 503, 'under-pressure');
      expect(res.headers['retry-after']).toBe('2');
      expect((await request(app.server).get('/health')).status).toBe(200);
      expect((await request(app.server).get('/ready')).status).toBe(200);
      expect((await request(app.server).get('/metrics')).status).toBe(200);
    } finally {
      await app.close();
    }
  });
});
