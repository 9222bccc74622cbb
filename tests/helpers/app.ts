/** Build the real app, through the same plugin and server options production uses. */
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import app from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { serverOptions } from '../../src/server-options.js';

export const ROOT = join(import.meta.dirname, '..', '..');
export const SHIPPED_MODEL = join(ROOT, 'models', 'cifar10');

export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({ MODEL_DIR: SHIPPED_MODEL, LOG_LEVEL: 'silent', NODE_ENV: 'test', WARMUP_RUNS: '1', ...env });
}

/** The app with the shipped model loaded (unless `waitForModels` is false). */
export async function buildApp(env: Record<string, string> = {}, waitForModels = true): Promise<FastifyInstance> {
  const config = testConfig(env);
  const server = Fastify(serverOptions(config, false));
  await server.register(fp(app), { config });
  await server.ready();
  if (waitForModels) await server.models.settled();
  return server;
}
