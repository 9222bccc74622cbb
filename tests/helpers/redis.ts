/** A real redis-server for the tests (scripts/lib/redis-server.ts, shared with the local fleet). */
export { RedisServer } from '../../scripts/lib/redis-server.js';
