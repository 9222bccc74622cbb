/**
 * Bytes on a connection that do not parse as HTTP. Node's own answer (and Fastify's default)
 * writes 400 and destroys the socket at once, so a complete request pipelined before those
 * bytes lost its answer. Here the answer in progress is sent first and the connection is
 * closed after it (node:http ends the socket once that answer is written, so no 400 can
 * follow it); with no answer in progress, 400 (431 for headers over the limit, 408 for a
 * timeout) as before.
 */
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** How long a pending answer may take before the connection is closed without it. */
const PENDING_ANSWER_MS = 30_000;

function answerFor(code: string | undefined): { status: number; message: string } {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return { status: 408, message: 'Client Timeout' };
  if (code === 'HPE_HEADER_OVERFLOW') return { status: 431, message: 'Exceeded maximum allowed HTTP header size' };
  return { status: 400, message: 'Client Error' };
}

/** Fastify's `clientErrorHandler`: the same answers as its default, after the one in progress. */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const { status, message } = answerFor(err.code);
  const body = JSON.stringify({ error: STATUS_CODES[status], message, statusCode: status });
  const refuse = (): void => {
    if (socket.writable) socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`);
    socket.destroy();
  };
  // node:http keeps the response being answered on its socket.
  const pending = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (!pending || pending.writableFinished || err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return refuse();
  const timer = setTimeout(refuse, PENDING_ANSWER_MS).unref();
  const settle = (): void => {
    clearTimeout(timer);
    refuse();
  };
  pending.once('finish', settle);
  pending.once('close', settle);
}
