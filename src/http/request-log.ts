/**
 * One log line per request, at info, when its response is sent: method, route, status and
 * time, with what the handler added (the prediction, the model version, a problem's type).
 * Fastify's own two lines per request are off (server-options.ts).
 */
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';

/** Whether the logger writes info lines (its level is info, debug or trace). */
const infoEnabled = (log: FastifyBaseLogger): boolean => log.level === 'info' || log.level === 'debug' || log.level === 'trace';

declare module 'fastify' {
  interface FastifyRequest {
    /** Fields for this request's log line. */
    logFields: Record<string, unknown> | null;
  }
}

/**
 * Add fields to the request's one log line. `fields` is called only when the line will be
 * written: below LOG_LEVEL=info nothing is built for it.
 */
export function annotate(request: FastifyRequest, fields: () => Record<string, unknown>): void {
  if (!infoEnabled(request.log)) return;
  request.logFields = request.logFields ? Object.assign(request.logFields, fields()) : fields();
}

export function requestLog(app: FastifyInstance): void {
  app.decorateRequest('logFields', null);
  app.addHook('onResponse', (request, reply, done) => {
    if (!infoEnabled(request.log)) return done();
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
    done();
  });
}
