import SwaggerParser from '@apidevtools/swagger-parser';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from './helpers/app.js';

describe('OpenAPI document', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await buildApp({}, false);
  });
  afterAll(async () => {
    await app.models.settled();
    await app.close();
  });

  it('documents every route with its request bodies, responses and errors', () => {
    const doc = app.swagger() as unknown as {
      paths: Record<string, Record<string, { requestBody?: { content: Record<string, unknown> }; responses: Record<string, unknown> }>>;
      components: { schemas: Record<string, unknown> };
    };
    const predict = doc.paths['/predict']!.post!;
    expect(Object.keys(predict.requestBody!.content)).toEqual(['multipart/form-data', 'application/json', 'image/*', 'application/octet-stream', 'text/plain', 'message/rfc822']);
    expect(predict.requestBody!.content['multipart/form-data']).toMatchObject({
      schema: { properties: { file: { type: 'string', format: 'binary' } } },
    });
    expect(Object.keys(predict.responses)).toEqual(['200', '400', '404', '413', '415', '422', '429', '500', '503']);
    expect(Object.keys(doc.paths['/predict/batch']!.post!.requestBody!.content)).toEqual(['multipart/form-data', 'application/json']);
    // The per-model and per-version prediction routes take the same bodies.
    for (const path of ['/v1/models/{name}/predict', '/v1/models/{name}/versions/{version}/predict']) {
      expect(doc.paths[path]!.post!.requestBody).toEqual(predict.requestBody);
    }
  });

  it('declares errors as application/problem+json with an example of their own status, and describes 2xx answers', () => {
    const doc = app.swagger() as unknown as {
      paths: Record<string, Record<string, { responses: Record<string, { description: string; content?: Record<string, { schema?: unknown; example?: { status: number } }> }> }>>;
      components: { schemas: Record<string, unknown> };
    };
    let errors = 0;
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        for (const [status, response] of Object.entries(op.responses)) {
          if (Number(status) >= 400 && path.startsWith('/v2')) {
            // The Open Inference Protocol's own error object.
            expect(Object.keys(response.content ?? {}), `${method} ${path} ${status}`).toEqual(['application/json']);
            expect(response.content!['application/json']!.example, `${method} ${path} ${status}`).toEqual({ error: expect.any(String) });
          } else if (Number(status) >= 400) {
            errors++;
            expect(Object.keys(response.content ?? {}), `${method} ${path} ${status}`).toEqual(['application/problem+json']);
            expect(response.content!['application/problem+json']!.example!.status, `${method} ${path} ${status}`).toBe(Number(status));
          } else {
            expect(response.description, `${method} ${path} ${status}`).not.toBe('Default Response');
          }
        }
      }
    }
    expect(errors).toBeGreaterThan(50);
    // Each schema once: no unused `…Input` twins.
    expect(Object.keys(doc.components.schemas).filter((n) => n.endsWith('Input'))).toEqual([]);
    expect(Object.keys(doc.components.schemas)).toContain('Prediction');
  });

  it('is a valid OpenAPI 3 document', async () => {
    const doc = structuredClone(app.swagger()) as unknown as Parameters<typeof SwaggerParser.validate>[0];
    await expect(SwaggerParser.validate(doc)).resolves.toBeTruthy();
  });

  it('matches the reviewed snapshot (a contract change shows up in review)', () => {
    expect(JSON.stringify(app.swagger(), null, 2)).toMatchSnapshot();
  });
});
