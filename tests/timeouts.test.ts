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
    const socket = connect(port, '127.0.0.1');
    socket.write('POST /predict HTTP/1.1\r\nHost: localhost\r\n');
    const ticker = setInterval(() => socket.writable && socket.write('X-Slow: 1\r\n'), 100);
    try {
      const reply = await closed(socket, 8000);
      expect(reply === '' || reply.startsWith('HTTP/1.1 408')).toBe(true);
    } finally {
      clearInterval(ticker);
      socket.destroy();
    }
  });

  it('closes a connection whose body stalls, and keeps serving others', async () => {
    const socket = connect(port, '127.0.0.1');
    socket.write('POST /predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n');
    const ticker = setInterval(() => socket.writable && socket.write(Buffer.alloc(10, 0xff)), 100);
    try {
      const reply = await closed(socket, 8000);
      expect(reply === '' || reply.startsWith('HTTP/1.1 408')).toBe(true);
    } finally {
      clearInterval(ticker);
      socket.destroy();
    }
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.status).toBe(200);
  });

  it('keeps idle keep-alive connections longer than a load balancer does (60 s)', () => {
    expect(app.server.keepAliveTimeout).toBeGreaterThan(60_000);
    expect(app.server.headersTimeout).toBe(500);
    expect(app.server.requestTimeout).toBe(1500);
  });
});
