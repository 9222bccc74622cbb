/** Slow and stalled clients are cut off by the server's timeouts (real sockets, real server). */
import { connect, type Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from './helpers/app.js';

/** Resolves with what the server sent once it closes the connection; rejects after `limitMs`. */
function closed(socket: Socket, limitMs: number): Promise<string> {
  let received = '';
  socket.on('data', (d: Buffer) => (received += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server kept the connection open for ${limitMs} ms`)), limitMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
    socket.once('error', () => {});
  });
}

/**
 * Send `head`, then `drip` every 100 ms, until the server closes the connection; resolves with
 * what it answered (nothing, or a 408).
 */
async function trickle(port: number, head: string, drip: string | Buffer): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  socket.write(head);
  const ticker = setInterval(() => socket.writable && socket.write(drip), 100);
  try {
    return await closed(socket, 8000);
  } finally {
    clearInterval(ticker);
    socket.destroy();
  }
}

describe('timeouts', () => {
  let app: FastifyInstance;
  let port: number;
  beforeAll(async () => {
    app = await buildApp({ HEADERS_TIMEOUT_MS: '500', REQUEST_TIMEOUT_MS: '1500' });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await app.close();
  });

  it('closes a connection whose headers trickle in (slowloris)', async () => {
    const reply = await trickle(port, 'POST /predict HTTP/1.1\r\nHost: localhost\r\n', 'X-Slow: 1\r\n');
    expect(reply === '' || reply.startsWith('HTTP/1.1 408')).toBe(true);
  });

  it('closes a connection whose body stalls, and keeps serving others', async () => {
    const head = 'POST /predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n';
    const reply = await trickle(port, head, Buffer.alloc(10, 0xff));
    expect(reply === '' || reply.startsWith('HTTP/1.1 408')).toBe(true);
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.status).toBe(200);
  });

  it('keeps idle keep-alive connections longer than a load balancer does (60 s)', () => {
    expect(app.server.keepAliveTimeout).toBeGreaterThan(60_000);
    expect(app.server.headersTimeout).toBe(500);
    expect(app.server.requestTimeout).toBe(1500);
  });
});
