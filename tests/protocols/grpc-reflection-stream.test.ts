/** Server reflection streams against the real gRPC port: whatever a client sends, every stream ends with a status. */
import { credentials, makeGenericClientConstructor, Metadata, status, type Client, type ClientDuplexStream } from '@grpc/grpc-js';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../helpers/app.js';
import { freePort } from '../helpers/net.js';

const raw = (b: Buffer): Buffer => b;
/** A client that sends and receives the reflection service's messages as raw bytes. */
const RawReflection = makeGenericClientConstructor(
  Object.fromEntries(
    ['v1', 'v1alpha'].map((v) => [v, { path: `/grpc.reflection.${v}.ServerReflection/ServerReflectionInfo`, requestStream: true, responseStream: true, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw, originalName: v }]),
  ),
  'RawReflection',
);
type RawClient = Client & Record<'v1' | 'v1alpha', (metadata: Metadata, options: { deadline: number }) => ClientDuplexStream<Buffer, Buffer>>;

/** ServerReflectionRequest { list_services: "" } (field 7, a string). */
const LIST_SERVICES = Buffer.from([0x3a, 0x00]);
const MALFORMED = [
  Buffer.from([0xff, 0xff, 0xff, 0xff]), // an invalid wire type
  Buffer.from([0x0a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), // an overlong varint
];

// (protobufjs reads some damaged messages leniently, a string cut short among them: those
// parse, are answered, and the stream rightly stays open for the next request.)

/** Send `valid` good requests then `bad`; the responses, and the status the stream ended with. */
function exchange(client: RawClient, version: 'v1' | 'v1alpha', valid: number, bad: Buffer | undefined, waitBetween: boolean): Promise<{ responses: number; code: number; ms: number }> {
  const started = Date.now();
  const call = client[version](new Metadata(), { deadline: Date.now() + 20_000 });
  let responses = 0;
  call.on('data', () => responses++);
  return new Promise((resolve) => {
    call.on('error', () => undefined);
    call.on('status', (s) => resolve({ responses, code: s.code, ms: Date.now() - started }));
    void (async () => {
      for (let i = 0; i < valid; i++) {
        call.write(LIST_SERVICES);
        if (waitBetween) await new Promise((r) => setTimeout(r, 5));
      }
      if (bad) call.write(bad);
      else call.end();
    })();
  });
}

describe('gRPC server reflection, hostile streams', () => {
  let app: FastifyInstance;
  let client: RawClient;
  beforeAll(async () => {
    app = await buildApp({ GRPC_PORT: String(await freePort()), HOST: '127.0.0.1' });
    client = new RawReflection(`127.0.0.1:${app.grpcPort()}`, credentials.createInsecure()) as unknown as RawClient;
  });
  afterAll(async () => {
    client.close();
    await app.close();
  });

  it('answers valid requests and ends with OK when the client half-closes', async () => {
    expect(await exchange(client, 'v1', 3, undefined, false)).toMatchObject({ responses: 3, code: status.OK });
  });

  it('ends every stream that carries a malformed message with INVALID_ARGUMENT, after any number of valid ones, at once', async () => {
    const outcomes = [];
    for (const version of ['v1', 'v1alpha'] as const)
      for (const bad of MALFORMED)
        for (const valid of [0, 1, 3, 8])
          for (const waitBetween of [false, true]) outcomes.push({ version, valid, waitBetween, ...(await exchange(client, version, valid, bad, waitBetween)) });
    // No stream is left open until its deadline, and each valid request before the bad one is answered.
    expect(outcomes.filter((o) => o.code !== status.INVALID_ARGUMENT)).toEqual([]);
    expect(outcomes.filter((o) => o.responses !== o.valid)).toEqual([]);
    // The server still answers.
    expect(await exchange(client, 'v1', 1, undefined, false)).toMatchObject({ responses: 1, code: status.OK });
  }, 120_000);
});
