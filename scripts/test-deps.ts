/**
 * `npm test` runs this first (pretest): the suite talks to a real redis-server and drives a
 * real headless Chromium. When one is missing it is installed on Debian/Ubuntu (apt-get, as
 * root or through sudo), as `.ci/run` does; elsewhere it stops with what to install.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

interface Need {
  what: string;
  found: () => boolean;
  apt: string;
  elsewhere: string;
}

const onPath = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

const NEEDS: Need[] = [
  {
    what: 'redis-server (cache and rate-limit tests)',
    found: () => onPath('redis-server'),
    apt: 'redis-server',
    elsewhere: 'macOS: brew install redis; Fedora: dnf install redis; or any redis-server 6+ on the PATH',
  },
  {
    what: 'nginx (the fleet tests: three replicas behind a load balancer)',
    found: () => onPath('nginx') || existsSync('/usr/sbin/nginx'),
    apt: 'nginx-light',
    elsewhere: 'macOS: brew install nginx; Fedora: dnf install nginx; or any nginx 1.18+ on the PATH',
  },
  {
    what: 'Chromium (the Swagger UI test)',
    found: () => Boolean(process.env.CHROME_BIN && existsSync(process.env.CHROME_BIN)) || ['chromium', 'chromium-browser', 'google-chrome'].some(onPath),
    apt: 'chromium',
    elsewhere: 'macOS: brew install --cask chromium (then CHROME_BIN=/Applications/Chromium.app/Contents/MacOS/Chromium); Fedora: dnf install chromium; or set CHROME_BIN to any Chrome/Chromium',
  },
  {
    what: 'jq (the docs\' walkthroughs, replayed by tests/docs)',
    found: () => onPath('jq'),
    apt: 'jq',
    elsewhere: 'macOS: brew install jq; Fedora: dnf install jq',
  },
  {
    what: 'grpcio for /usr/bin/python3 (the Python gRPC walkthrough in docs/open-inference.md)',
    found: () => spawnSync('/usr/bin/python3', ['-c', 'import grpc'], { stdio: 'ignore' }).status === 0,
    apt: 'python3-grpcio',
    elsewhere: '/usr/bin/python3 -m pip install --user grpcio',
  },
  {
    what: 'grpcio-tools for /usr/bin/python3 (its stubs, generated from the official .proto)',
    found: () => spawnSync('/usr/bin/python3', ['-c', 'import grpc_tools.protoc'], { stdio: 'ignore' }).status === 0,
    apt: 'python3-grpc-tools',
    elsewhere: '/usr/bin/python3 -m pip install --user grpcio-tools',
  },
];

const missing = NEEDS.filter((n) => !n.found());
if (missing.length === 0) process.exit(0);

const isDebian = existsSync('/etc/debian_version') && onPath('apt-get');
const root = process.getuid?.() === 0;
const sudo = !root && onPath('sudo') ? ['sudo'] : [];
if (isDebian && (root || sudo.length > 0)) {
  const packages = missing.map((n) => n.apt);
  console.log(`installing what the tests need: ${packages.join(', ')} (apt-get)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const run = (args: string[]): boolean => spawnSync(sudo[0] ?? args[0]!, sudo.length > 0 ? args : args.slice(1), { stdio: 'inherit', env }).status === 0;
  if (run(['apt-get', 'update', '-qq']) && run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...packages]) && missing.every((n) => n.found())) {
    process.exit(0);
  }
}
console.error('The test suite needs, and could not install:');
for (const n of missing) console.error(`  - ${n.what}: apt-get install ${n.apt} on Debian/Ubuntu; ${n.elsewhere}`);
process.exit(1);
