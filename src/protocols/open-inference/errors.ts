/** The Open Inference Protocol's errors: `{"error": "<message>"}`, with its statuses for the domain's codes. */
import type { ErrorCode } from '../../serving/errors.js';
import { countError, nativeStatus, type ErrorProtocol } from '../../http/problems.js';

/** As the native API, except that an input the protocol carried but the model cannot use is a bad request (the body's media type was fine). */
export function v2Status(code: ErrorCode): number {
  switch (code) {
    case 'unsupported-media':
    case 'unprocessable':
      return 400;
    default:
      return nativeStatus(code);
  }
}

export const v2Errors: ErrorProtocol = {
  statusOf: v2Status,
  send(request, reply, p) {
    countError(request, p);
    return reply
      .code(p.status)
      .headers(p.headers ?? {})
      .type('application/json; charset=utf-8')
      .send(JSON.stringify({ error: p.detail }));
  },
};
