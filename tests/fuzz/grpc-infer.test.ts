/**
 * Property-based fuzzing of ModelInfer over a real gRPC port (fast-check, fixed seed):
 * random model names and versions, datatypes, shapes (negative, huge, too many dimensions),
 * typed contents in the right and wrong fields, raw contents of the wrong size or with broken
 * BYTES length prefixes, both at once, and random bytes as images. Every answer is OK or a
 * status from the documented set, never INTERNAL, UNKNOWN or a hang; the server still answers.
 */
import { Metadata, status } from '@grpc/grpc-js';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../helpers/app.js';
import { inferenceClient, type InferenceClient } from '../helpers/grpc.js';
import * as img from '../helpers/images.js';
import { freePort } from '../helpers/net.js';

const DOCUMENTED = new Set([status.OK, status.INVALID_ARGUMENT, status.NOT_FOUND, status.RESOURCE_EXHAUSTED, status.UNAVAILABLE]);


const datatype = fc.constantFrom('UINT8', 'FP32', 'FP64', 'INT64', 'BYTES', 'BOOL', 'FP16', 'INT8', 'UINT64', 'COMPLEX', '');
const dim = fc.oneof(fc.integer({ min: 0, max: 40 }), fc.constantFrom(-1, 2 ** 31, 2 ** 53 + 1, 32, 3));
const contents = fc.record(
  {
    uint_contents: fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 40 }),
    fp32_contents: fc.array(fc.float({ noNaN: false }), { maxLength: 40 }),
    fp64_contents: fc.array(fc.double(), { maxLength: 40 }),
    int64_contents: fc.array(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String), { maxLength: 8 }),
    bool_contents: fc.array(fc.boolean(), { maxLength: 8 }),
    bytes_contents: fc.array(fc.oneof(fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)), fc.constant(img.photo('cat'))), { maxLength: 3 }),
  },
  { requiredKeys: [] },
);
const raw = fc.oneof(
  fc.uint8Array({ maxLength: 4000 }).map((b) => Buffer.from(b)),
  fc.constant(Buffer.alloc(3072, 7)),
  fc.constant(Buffer.from([9, 0, 0, 0, 1, 2])),
  fc.constant(Buffer.concat([Buffer.from(Uint32Array.of(img.photo('dog').length).buffer), img.photo('dog')])),
);
const request = fc.record({
  model_name: fc.constantFrom('cifar10', 'iris', 'spam', 'wine-quality', 'nope', '', '../x'),
  model_version: fc.constantFrom('', '1', '2', 'x'),
  id: fc.string({ maxLength: 20 }),
  inputs: fc.array(fc.record({ name: fc.constantFrom('image', 'features', 'text', 'x', ''), datatype, shape: fc.array(dim, { maxLength: 10 }), contents: fc.option(contents, { nil: undefined }) }), { maxLength: 3 }),
  outputs: fc.array(fc.record({ name: fc.constantFrom('label', 'probabilities', 'prediction', 'nope') }), { maxLength: 3 }),
  raw_input_contents: fc.array(raw, { maxLength: 3 }),
});

/** Requests close to valid ones, so that decoding and the models are reached too. */
const nearValid = fc.oneof(
  fc.record({ n: fc.integer({ min: 1, max: 9 }), cut: fc.integer({ min: -2, max: 2 }), fill: fc.integer({ min: 0, max: 255 }) }).map(({ n, cut, fill }) => ({
    model_name: 'cifar10',
    inputs: [{ name: 'image', datatype: 'UINT8', shape: [n, 32, 32, 3] }],
    raw_input_contents: [Buffer.alloc(Math.max(0, n * 3072 + cut), fill)],
  })),
  fc.array(fc.oneof(fc.double(), fc.constantFrom(1e300, -1e300, 0)), { minLength: 4, maxLength: 4 }).map((row) => ({
    model_name: 'iris',
    inputs: [{ name: 'features', datatype: 'FP64', shape: [1, 4], contents: { fp64_contents: row } }],
  })),
  fc.array(fc.oneof(fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)), fc.constant(img.photo('frog'))), { minLength: 1, maxLength: 3 }).map((files) => ({
    model_name: 'cifar10',
    inputs: [{ name: 'image', datatype: 'BYTES', shape: [files.length], contents: { bytes_contents: files } }],
  })),
  fc.array(fc.oneof(fc.string({ maxLength: 200 }), fc.uint8Array({ maxLength: 100 })), { minLength: 1, maxLength: 3 }).map((texts) => ({
    model_name: 'spam',
    inputs: [{ name: 'text', datatype: 'BYTES', shape: [texts.length], contents: { bytes_contents: texts.map((t) => Buffer.from(t)) } }],
  })),
);

describe('fuzz: ModelInfer over gRPC', () => {
  let app: FastifyInstance;
  let client: InferenceClient;
  beforeAll(async () => {
    app = await buildApp({ GRPC_PORT: String(await freePort()), HOST: '127.0.0.1', MAX_BATCH_FILES: '8', CACHE_MAX_ENTRIES: '0' });
    client = inferenceClient(app.grpcPort());
  });
  afterAll(async () => {
    client.close();
    await app.close();
  });

  it('answers every malformed request with a documented status', async () => {
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fc.oneof(request, nearValid), async (message) => {
        const code = await new Promise<number>((resolve) => client.ModelInfer!(message, new Metadata(), {}, (err) => resolve(err ? err.code : status.OK)));
        seen.set(code, (seen.get(code) ?? 0) + 1);
        expect(DOCUMENTED.has(code), `${code} for ${JSON.stringify(message).slice(0, 300)}`).toBe(true);
      }),
      { numRuns: 300, seed: 20261130 },
    );
    console.log(`grpc fuzz: ${JSON.stringify(Object.fromEntries(seen))} (status code: calls)`);
    // Refusals and answers were both reached, and the server still answers.
    expect(seen.get(status.INVALID_ARGUMENT) ?? 0).toBeGreaterThan(0);
    expect(seen.get(status.OK) ?? 0).toBeGreaterThan(0);
    expect(await new Promise((resolve) => client.ServerLive!({}, new Metadata(), {}, (err, res) => resolve(err ?? res)))).toEqual({ live: true });
  });
});
