import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ApiKeys, presentedKey } from '../../auth/api-keys.js';
import { ProblemError } from '../../http/problems.js';

declare module 'fastify' {
  interface FastifyInstance {
    apiKeys: ApiKeys;
    /** ADMIN_API_KEYS, for the admin routes and RPCs. */
    adminKeys: ApiKeys;
    /** Id of the configured key the request presents, or null; computed once per request. */
    identifyKey: (request: FastifyRequest) => string | null;
    /** onRequest hook for protected routes: 401 unless a configured key is presented. */
    authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
    /** onRequest hook for admin routes: 403 without ADMIN_API_KEYS, 401 unless an admin key is presented. */
    authenticateAdmin: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
  }
}

/** The OpenAPI security requirement of protected routes (either scheme will do). */
export const SECURITY: { [scheme: string]: string[] }[] = [{ bearerAuth: [] }, { apiKeyAuth: [] }];

/** Optional API keys (API_KEYS / API_KEYS_FILE). With none configured every route is open. */
function unauthorized(presented: string | undefined, what: string): ProblemError {
  return new ProblemError(401, 'unauthorized', presented ? `the ${what} is not valid` : `an ${what} is required: send Authorization: Bearer <key> or X-API-Key: <key>`, {
    'www-authenticate': `Bearer realm="ml-inference-api"${presented ? ', error="invalid_token"' : ''}`,
  });
}

/** API keys for the API, and a separate set (ADMIN_API_KEYS) for the admin routes. */
export default fp<{ keys: readonly string[]; adminKeys: readonly string[] }>(
  async (app, { keys, adminKeys }) => {
    const apiKeys = new ApiKeys(keys);
    const admin = new ApiKeys(adminKeys);
    app.decorate('apiKeys', apiKeys);
    app.decorate('adminKeys', admin);
    // Rate limiting (before routing) and authentication (per route) both ask.
    const identified = new WeakMap<FastifyRequest, string | null>();
    const identifyKey = (request: FastifyRequest): string | null => {
      if (!identified.has(request)) identified.set(request, apiKeys.identify(presentedKey(request.headers)));
      return identified.get(request) ?? null;
    };
    app.decorate('identifyKey', identifyKey);
    app.decorate('authenticate', async (request: FastifyRequest) => {
      if (!apiKeys.enabled) return;
      if (identifyKey(request) === null) throw unauthorized(presentedKey(request.headers), 'API key');
    });
    app.decorate('authenticateAdmin', async (request: FastifyRequest) => {
      if (!admin.enabled) throw new ProblemError(403, 'admin-disabled', 'the admin API is disabled: set ADMIN_API_KEYS to enable it');
      const presented = presentedKey(request.headers);
      if (admin.identify(presented) === null) throw unauthorized(presented, 'admin API key');
    });
  },
  { name: 'auth' },
);
