import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { LogController, type FastifyHttpOptions, type FastifyServerOptions } from 'fastify';
import type { Config } from './config.js';
import { clientErrorHandler } from './http/client-error.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Fastify constructor options, shared by server.ts and the test helper. */
export function serverOptions(config: Config, logger: FastifyServerOptions['logger'] = { level: config.LOG_LEVEL }): FastifyHttpOptions<Server> {
  return {
    logger,
    // One line per request, written when its response is sent (http/request-log.ts), instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    // Requests carry X-Request-Id through; a missing or odd one is replaced.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    bodyLimit: config.MAX_UPLOAD_BYTES,
    // A complete request pipelined before bytes that do not parse is answered first.
    clientErrorHandler,
    // Long model names reach the handler, which explains the naming rule, instead of a bare 404.
    routerOptions: { maxParamLength: 1024 },
    requestTimeout: config.REQUEST_TIMEOUT_MS,
    http: {
      // Slow clients (slowloris, stalled uploads) are cut off: headers within HEADERS_TIMEOUT_MS,
      // the whole request within REQUEST_TIMEOUT_MS, checked every second instead of Node's 30 s.
      headersTimeout: Math.min(config.HEADERS_TIMEOUT_MS, config.REQUEST_TIMEOUT_MS),
      requestTimeout: config.REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: Math.min(1000, config.HEADERS_TIMEOUT_MS),
    },
    connectionTimeout: config.REQUEST_TIMEOUT_MS,
    keepAliveTimeout: config.KEEP_ALIVE_TIMEOUT_MS,
    return503OnClosing: false,
    forceCloseConnections: 'idle',
  };
}
