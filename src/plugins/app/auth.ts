import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ApiKeys, presentedKey } from '../../auth/api-keys.js';
import { ProblemError } from '../../errors.js';

declare module 'fastify' {
  interface FastifyInstance {
    apiKeys: ApiKeys;
    /** Id of the configured key the request presents, or null; computed once per request. */
    identifyKey: (request: FastifyRequest) => string | null;
    /** onRequest hook for protected routes: 401 unless a configured key is presented. */
    authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
  }
}

/** The OpenAPI security requirement of protected routes (either scheme will do). */
export const SECURITY: { [scheme: string]: string[] }[] = [{ bearerAuth: [] }, { apiKeyAuth: [] }];

/** Optional API keys (API_KEYS / API_KEYS_FILE). With none configured every route is open. */
export default fp<{ keys: readonly string[] }>(
  async (app, { keys }) => {
    const apiKeys = new ApiKeys(keys);
    app.decorate('apiKeys', apiKeys);
    // Rate limiting (before routing) and authentication (per route) both ask.
    const identified = new WeakMap<FastifyRequest, string | null>();
    const identifyKey = (request: FastifyRequest): string | null => {
      if (!identified.has(request)) identified.set(request, apiKeys.identify(presentedKey(request.headers)));
      return identified.get(request) ?? null;
    };
    app.decorate('identifyKey', identifyKey);
    app.decorate('authenticate', async (request: FastifyRequest) => {
      if (!apiKeys.enabled) return;
      if (identifyKey(request) === null) {
        const presented = presentedKey(request.headers);
        throw new ProblemError(401, 'unauthorized', presented ? 'the API key is not valid' : 'an API key is required: send Authorization: Bearer <key> or X-API-Key: <key>', {
          'www-authenticate': `Bearer realm="ml-inference-api"${presented ? ', error="invalid_token"' : ''}`,
        });
      }
    });
  },
  { name: 'auth' },
);
