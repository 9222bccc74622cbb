/**
 * The process: config, the inference hosts, Fastify, listen, graceful shutdown. The hosts
 * start first, so they boot while the rest of the server's code loads (most of a second).
 */
import { ConfigError, loadConfig, loadDotEnv, type Config } from './config.js';
import { InstancePool } from './inference/pool.js';
import { poolOptions } from './inference/pool-config.js';

let config: Config;
try {
  loadDotEnv();
  config = loadConfig();
} catch (err) {
  process.stderr.write(`${err instanceof ConfigError ? err.message : String(err)}\n`);
  process.exit(1);
}

// With INFERENCE_WORKERS=0 models run on the main thread: nothing to start ahead.
const pool = config.INFERENCE_WORKERS > 0 ? InstancePool.start(poolOptions(config)) : undefined;
// A failure to start is reported (and the server kept unready) by the models plugin.
pool?.catch(() => undefined);
const [{ default: closeWithGrace }, { default: Fastify }, { default: fp }, { default: app }, { serverOptions }] = await Promise.all([
  import('close-with-grace'),
  import('fastify'),
  import('fastify-plugin'),
  import('./app.js'),
  import('./server-options.js'),
]);

const server = Fastify(serverOptions(config));
await server.register(fp(app), { config, ...(pool && { pool }) });

const grace = closeWithGrace({ delay: config.SHUTDOWN_TIMEOUT_MS, logger: server.log, skip: ['SIGINT', 'SIGTERM'] }, async ({ signal, err }) => {
  if (err) server.log.error({ err }, 'shutting down after an error');
  else if (signal) server.log.info({ signal }, 'shutting down: readiness off, draining');
  server.lifecycle.shuttingDown = true;
  await new Promise((resolve) => setTimeout(resolve, config.SHUTDOWN_DRAIN_MS));
  server.lifecycle.refusing = true;
  await server.close();
  server.log.info('closed');
});

// SIGINT and SIGTERM are handled here rather than by close-with-grace: one Ctrl-C under
// `npm start` reaches the server twice (from the terminal and forwarded by npm) within
// milliseconds; that is one request to stop, not an order to exit at once.
const DUPLICATE_SIGNAL_MS = 1000;
let firstSignalAt = 0;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (firstSignalAt === 0) {
      firstSignalAt = Date.now();
      server.log.info({ signal }, 'shutting down: readiness off, draining');
      void grace.close();
    } else if (Date.now() - firstSignalAt > DUPLICATE_SIGNAL_MS) {
      server.log.warn({ signal }, 'second signal: exiting without draining');
      process.exit(1);
    }
  });
}

try {
  await server.listen({ host: config.HOST, port: config.PORT });
} catch (err) {
  server.log.error({ err }, 'could not start');
  process.exit(1);
}
