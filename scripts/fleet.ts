/**
 * A local fleet: N replicas on loopback behind nginx, sharing a redis-server and an
 * S3-compatible store (s3rver) holding the bundled models, until Ctrl-C.
 *
 *   npm run fleet -- [--replicas 3] [--port 8080] [--replica-port 8101] [--poll 10] [--no-redis]
 *
 * Needs nginx, redis-server (apt-get install nginx-light redis-server) and a build (npm run
 * fleet builds first). The admin key is printed; every replica takes the same one.
 */
import { parseArgs } from 'node:util';
import { LocalFleet } from './lib/fleet.js';

const { values } = parseArgs({
  options: {
    replicas: { type: 'string', default: '3' },
    port: { type: 'string', default: '8080' },
    'replica-port': { type: 'string', default: '8101' },
    poll: { type: 'string', default: '10' },
    'admin-key': { type: 'string', default: 'fleet-admin-key-0123456789' },
    'no-redis': { type: 'boolean', default: false },
  },
});

const replicas = Number(values.replicas);
if (!Number.isInteger(replicas) || replicas < 1 || replicas > 16) throw new Error('--replicas must be 1 to 16');
console.log(`starting ${replicas} replica(s), ${values['no-redis'] ? 'no Redis' : 'redis-server'}, s3rver and nginx ...`);
const fleet = await LocalFleet.start({
  replicas,
  port: Number(values.port),
  replicaPort: Number(values['replica-port']),
  redis: !values['no-redis'],
  env: { ADMIN_API_KEYS: values['admin-key'], API_KEYS: '', MODEL_POLL_INTERVAL_S: values.poll, DEFAULT_MODEL: 'iris', LOG_LEVEL: 'info' },
  log: (replica, line) => {
    for (const l of line.split('\n')) {
      try {
        const entry = JSON.parse(l) as { msg?: string; model?: string; revision?: number };
        if (entry.msg && /config|fleet|unloaded|available/.test(entry.msg)) console.log(`[${replica}] ${entry.msg}${entry.model ? ` (${entry.model}${entry.revision !== undefined ? ` revision ${entry.revision}` : ''})` : ''}`);
      } catch {
        // not a log line
      }
    }
  },
});
console.log(`balancer (nginx):   ${fleet.base}`);
for (const r of fleet.replicas) console.log(`${r.name}:          ${r.base}`);
console.log(`repository:         ${fleet.repository} (s3rver at ${fleet.s3Endpoint})`);
console.log(`redis:              ${values['no-redis'] ? 'none' : fleet.redisUrl}`);
console.log(`admin key:          ${values['admin-key']}`);
console.log('Ctrl-C stops the fleet.');

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.log('stopping the fleet ...');
    void fleet.stop().then(() => process.exit(0));
  });
}
