import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ApiKeys, presentedKey } from '../../auth/api-keys.js';
import { ProblemError } from '../../errors.js';

declare module 'fastify' {
  interface FastifyInstance {
    apiKeys: ApiKeys;
    /** onRequest hook for protected routes: 401 unless a configured key is presented. */
    authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
  }
  interface FastifyRequest {
    /** Id of the API key the request presented, when it is a configured one. */
    apiKeyId: string | null;
  }
}

/** The OpenAPI security requirement of protected routes (either scheme will do). */
export const SECURITY: { [scheme: string]: string[] }[] = [{ bearerAuth: [] }, { apiKeyAuth: [] }];

/** Optional API keys (API_KEYS / API_KEYS_FILE). With none configured every route is open. */
export default fp<{ keys: readonly string[] }>(
  async (app, { keys }) => {
    const apiKeys = new ApiKeys(keys);
    app.decorate('apiKeys', apiKeys);
    app.decorateRequest('apiKeyId', null);
    app.decorate('authenticate', async (request: FastifyRequest) => {
      if (!apiKeys.enabled) return;
      const presented = presentedKey(request.headers);
      const id = apiKeys.identify(presented);
      if (id === null) {
        throw new ProblemError(401, 'unauthorized', presented ? 'the API key is not valid' : 'an API key is required: send Authorization: Bearer <key> or X-API-Key: <key>', {
          'www-authenticate': `Bearer realm="ml-inference-api"${presented ? ', error="invalid_token"' : ''}`,
        });
      }
      request.apiKeyId = id;
    });
  },
  { name: 'auth' },
);
