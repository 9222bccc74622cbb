/**
 * A stand-in for the official Node.js base image, for machines that reach no container
 * registry: Debian bookworm (mmdebstrap, minbase, from this machine's apt sources), the
 * official Node.js binary of the same version (the npm registry's node-linux-<arch>
 * package), npm 11, and the user `node` (uid and gid 1000), as the official image has them.
 * It trusts what npm on this machine trusts (its cafile, through NODE_EXTRA_CA_CERTS), so
 * npm inside the build reaches the registry as npm here does. It is labelled as a stand-in
 * and must never be pushed or used outside these checks: where a registry is reachable, the
 * real base image is pulled instead.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Run a command, its output shown; throws with the command when it fails. */
export function sh(command: string, args: string[], opts: { cwd?: string; quiet?: boolean } = {}): string {
  const r = spawnSync(command, args, { cwd: opts.cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', opts.quiet ? 'pipe' : 'inherit'], maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`cannot run ${command}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.status}${opts.quiet ? `: ${r.stderr}` : ''}`);
  return r.stdout;
}

/** The Node.js version of an official image name (node:24.11.1-bookworm-slim → 24.11.1). */
export function nodeVersionOf(image: string): string {
  const m = /^(?:docker\.io\/library\/)?node:(\d+\.\d+\.\d+)-bookworm(-slim)?$/.exec(image);
  if (!m) throw new Error(`a stand-in can be assembled for node:<x.y.z>-bookworm[-slim] only, not ${image}`);
  return m[1]!;
}

/**
 * Assemble the stand-in for `image` and commit it under that name (docker.io/library/…, so
 * the Dockerfile's FROM finds it). The Debian tarball is kept in `cacheDir` for the next run.
 */
export function assembleStandIn(image: string, cacheDir: string): void {
  const version = nodeVersionOf(image);
  const arch = process.arch === 'arm64' ? 'arm64' : 'x64';
  mkdirSync(cacheDir, { recursive: true });
  const rootfs = join(cacheDir, 'bookworm-minbase.tar');
  if (!existsSync(rootfs)) {
    console.log('stand-in: Debian bookworm (mmdebstrap --variant=minbase)');
    sh('mmdebstrap', ['--variant=minbase', '--include=ca-certificates', 'bookworm', `${rootfs}.partial`]);
    sh('mv', [`${rootfs}.partial`, rootfs]);
  }
  const work = mkdtempSync(join(tmpdir(), 'stand-in-'));
  const ctr = sh('buildah', ['from', 'scratch'], { quiet: true }).trim();
  try {
    const mnt = sh('buildah', ['mount', ctr], { quiet: true }).trim();
    sh('tar', ['-x', '-C', mnt, '-f', rootfs]);
    console.log(`stand-in: Node.js ${version} (npm package node-linux-${arch}) and npm 11`);
    sh('npm', ['pack', '--silent', `node-linux-${arch}@${version}`, '--pack-destination', work], { quiet: true });
    const tgz = readdirSync(work).find((f) => f.endsWith('.tgz'))!;
    sh('tar', ['-x', '-z', '-C', work, '-f', join(work, tgz)]);
    mkdirSync(join(mnt, 'usr/local/bin'), { recursive: true });
    copyFileSync(join(work, 'package', 'bin', 'node'), join(mnt, 'usr/local/bin/node'));
    sh('chmod', ['755', join(mnt, 'usr/local/bin/node')]);
    sh('npm', ['install', '--global', '--silent', '--no-audit', '--no-fund', '--prefix', join(mnt, 'usr/local'), 'npm@11'], { quiet: true });
    // The user the official image has, and the CA bundle npm trusts here.
    appendFileSync(join(mnt, 'etc/group'), 'node:x:1000:\n');
    appendFileSync(join(mnt, 'etc/passwd'), 'node:x:1000:1000::/home/node:/bin/bash\n');
    mkdirSync(join(mnt, 'home/node'), { recursive: true });
    sh('chown', ['1000:1000', join(mnt, 'home/node')]);
    const cafile = spawnSync('npm', ['config', 'get', 'cafile'], { encoding: 'utf8' }).stdout.trim();
    const env = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', `NODE_VERSION=${version}`];
    if (cafile && cafile !== 'null' && existsSync(cafile)) {
      copyFileSync(cafile, join(mnt, 'etc/ssl/certs/stand-in-build-ca.pem'));
      env.push('NODE_EXTRA_CA_CERTS=/etc/ssl/certs/stand-in-build-ca.pem');
    }
    sh('buildah', ['umount', ctr], { quiet: true });
    sh('buildah', ['config', ...env.flatMap((e) => ['--env', e]), '--cmd', 'node', '--label', 'org.opencontainers.image.description=STAND-IN for the official Node.js image, assembled by npm run image where no registry is reachable: never push or deploy it', ctr], { quiet: true });
    sh('buildah', ['commit', '--quiet', '--format', 'docker', ctr, `docker.io/library/${image.replace(/^docker\.io\/library\//, '')}`], { quiet: true });
    console.log(`stand-in: committed as ${image}`);
  } finally {
    spawnSync('buildah', ['rm', ctr], { stdio: 'ignore' });
    rmSync(work, { recursive: true, force: true });
  }
}
