/**
 * One log line per request, at info, when its response is sent: method, route, status and
 * time, with what the handler added (the prediction, the model version, a problem's type).
 * Fastify's own two lines per request are off (server-options.ts).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /** Fields for this request's log line. */
    logFields: Record<string, unknown> | null;
  }
}

/** Add fields to the request's one log line. */
export function annotate(request: FastifyRequest, fields: Record<string, unknown>): void {
  request.logFields = { ...request.logFields, ...fields };
}

export function requestLog(app: FastifyInstance): void {
  app.decorateRequest('logFields', null);
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      {
        method: request.method,
        url: request.url,
        ...(request.routeOptions.url !== undefined && { route: request.routeOptions.url }),
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 100) / 100,
        ...request.logFields,
      },
      'request',
    );
  });
}
