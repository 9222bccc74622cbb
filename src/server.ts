/** The process: config, Fastify, listen, graceful shutdown. */
import closeWithGrace from 'close-with-grace';
import Fastify from 'fastify';
import fp from 'fastify-plugin';
import app from './app.js';
import { ConfigError, loadConfig, loadDotEnv, type Config } from './config.js';
import { serverOptions } from './server-options.js';

let config: Config;
try {
  loadDotEnv();
  config = loadConfig();
} catch (err) {
  process.stderr.write(`${err instanceof ConfigError ? err.message : String(err)}\n`);
  process.exit(1);
}

const server = Fastify(serverOptions(config));
await server.register(fp(app), { config });

closeWithGrace({ delay: config.SHUTDOWN_TIMEOUT_MS, logger: server.log }, async ({ signal, err }) => {
  if (err) server.log.error({ err }, 'shutting down after an error');
  else server.log.info({ signal }, 'shutting down: readiness off, draining');
  server.lifecycle.shuttingDown = true;
  await new Promise((resolve) => setTimeout(resolve, config.SHUTDOWN_DRAIN_MS));
  server.lifecycle.refusing = true;
  await server.close();
  server.log.info('closed');
});

try {
  await server.listen({ host: config.HOST, port: config.PORT });
} catch (err) {
  server.log.error({ err }, 'could not start');
  process.exit(1);
}
