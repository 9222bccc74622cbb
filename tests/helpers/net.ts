/** A TCP port that is free on the loopback interface right now. */
export { freePort } from '../../scripts/lib/net.js';
