/** The key sticky traffic policies assign a client by: X-Client-Id, else its API key, else none (random). */
import type { FastifyRequest } from 'fastify';

export function clientKey(request: FastifyRequest, apiKeyId: string | null): string | undefined {
  const id = request.headers['x-client-id'];
  if (typeof id === 'string' && id.length > 0 && id.length <= 256) return `client:${id}`;
  return apiKeyId ? `key:${apiKeyId}` : undefined;
}
