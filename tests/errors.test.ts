import Fastify from 'fastify';
import fp from 'fastify-plugin';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import app from '../src/app.js';
import { serverOptions } from '../src/server-options.js';
import { testConfig } from './helpers/app.js';

describe('error handler', () => {
  it('a bug becomes a generic 500 problem that leaks nothing internal', async () => {
    const config = testConfig({ INFERENCE_WORKERS: '0' });
    const server = Fastify(serverOptions(config, false));
    await server.register(fp(app), { config });
    server.get('/boom', async () => {
      throw new Error('secret: /etc/passwd at db.internal:5432');
    });
    await server.ready();
    try {
      const res = await request(server.server).get('/boom').set('X-Request-Id', 'bug-1');
      expect(res.status).toBe(500);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body).toEqual({
        type: 'urn:ml-inference-api:problem:internal',
        title: 'Internal Server Error',
        status: 500,
        detail: 'an unexpected error occurred; quote the request_id when reporting it',
        instance: '/boom',
        request_id: 'bug-1',
      });
      expect(res.text).not.toMatch(/secret|passwd|internal:5432/);
    } finally {
      await server.models.settled();
      await server.close();
    }
  });
});
