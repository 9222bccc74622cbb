// An S3-compatible server (s3rver) on loopback for tests and the local fleet: node s3-server.mjs <port> <dir>.
// Tells its parent when it listens; a test kills it to take the store down.
import S3rver from 's3rver';

const [port, directory] = process.argv.slice(2);
const server = new S3rver({ address: '127.0.0.1', port: Number(port), directory, silent: true });
await server.run();
process.send?.('listening');
