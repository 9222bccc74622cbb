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
    expect(Object.keys(predict.requestBody!.content)).toEqual(['multipart/form-data', 'application/json', 'image/*', 'application/octet-stream']);
    expect(predict.requestBody!.content['multipart/form-data']).toMatchObject({
      schema: { properties: { file: { type: 'string', format: 'binary' } } },
    });
    expect(Object.keys(predict.responses)).toEqual(['200', '400', '404', '413', '415', '422', '429', '500', '503']);
    expect(Object.keys(doc.paths['/predict/batch']!.post!.requestBody!.content)).toEqual(['multipart/form-data', 'application/json']);
  });

  it('is a valid OpenAPI 3 document', async () => {
    const doc = structuredClone(app.swagger()) as unknown as Parameters<typeof SwaggerParser.validate>[0];
    await expect(SwaggerParser.validate(doc)).resolves.toBeTruthy();
  });

  it('matches the reviewed snapshot (a contract change shows up in review)', () => {
    expect(JSON.stringify(app.swagger(), null, 2)).toMatchSnapshot();
  });
});
