/** Build the real app, through the same plugin and server options production uses. */
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import app from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { serverOptions } from '../../src/server-options.js';
import type { ServedVersion } from '../../src/inference/served-version.js';
import type { ModelKind } from '../../src/kinds/kind.js';

export const ROOT = join(import.meta.dirname, '..', '..');
export const SHIPPED_REPOSITORY = join(ROOT, 'models');
export const SHIPPED_MODEL = join(SHIPPED_REPOSITORY, 'cifar10', '1');

/**
 * Test settings: the shipped repository, no polling (tests that poll set it), no gRPC port, and no load
 * shedding on event-loop delay, which would make answers depend on the machine's speed
 * (the shedding tests set it).
 */
export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({
    MODEL_REPOSITORY: SHIPPED_REPOSITORY,
    MODEL_POLL_INTERVAL_S: '0',
    MAX_EVENT_LOOP_DELAY_MS: '0',
    // Tests run side by side: the gRPC tests give it a free port.
    GRPC_PORT: '0',
    LOG_LEVEL: 'silent',
    NODE_ENV: 'test',
    WARMUP_RUNS: '1',
    ...env,
  });
}

/** The app with the shipped model loaded (unless `waitForModels` is false), serving `kinds` beside the built-in ones. */
export async function buildApp(env: Record<string, string> = {}, waitForModels = true, kinds: readonly ModelKind[] = []): Promise<FastifyInstance> {
  const config = testConfig(env);
  const server = Fastify(serverOptions(config, false));
  await server.register(fp(app), { config, kinds });
  await server.ready();
  if (waitForModels) await server.models.settled();
  return server;
}

/** The version serving `name`'s unversioned requests (the default model's by default). */
export function served(app: FastifyInstance, name = 'cifar10'): ServedVersion {
  const model = app.models.repository.peek(name);
  if (!model) throw new Error(`model ${name} is not available`);
  return model;
}
