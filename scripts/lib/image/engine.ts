/**
 * The container engines `npm run image` drives: Docker where an engine answers, else
 * buildah (which builds a Dockerfile as written and runs an image's command in a container
 * without a daemon). Both run a container on the host's network, as the image says: its
 * USER, WORKDIR, ENV, ENTRYPOINT and CMD, with extra environment given here.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sh } from './stand-in.js';

/** What an image says about running it. */
export interface ImageConfig {
  user: string;
  entrypoint: string[];
  cmd: string[];
  env: string[];
  workingDir: string;
  /** The HEALTHCHECK test (["CMD", ...] or ["CMD-SHELL", "..."]), if any. */
  healthcheck: string[] | undefined;
  labels: Record<string, string>;
}

/** One running container. */
export interface Container {
  readonly name: string;
  /** The host PID of the entrypoint's process (PID 1 inside), once it runs. */
  entrypointPid(): Promise<number>;
  /** Run a command inside it, as the image's user; its exit status and output. */
  exec(argv: string[]): { status: number | null; output: string };
  /** Send a signal to the entrypoint's process. */
  signal(sig: NodeJS.Signals): Promise<void>;
  /** Resolves with the entrypoint's exit status. */
  readonly exited: Promise<number | null>;
  /** Paths of its filesystem that changed since it was created (added, changed or removed). */
  changes(): string[];
  /** Its output so far. */
  logs(): string;
  remove(): void;
}

export interface Engine {
  readonly name: 'docker' | 'buildah';
  hasImage(ref: string): boolean;
  /** Pull `ref`; false when it cannot be had (no registry reachable). */
  pull(ref: string): boolean;
  build(tag: string, buildArgs: Record<string, string>): void;
  config(ref: string): ImageConfig;
  /** Bytes of the image, and of each of its layers (uncompressed), oldest first. */
  sizes(ref: string): { total: number; layers: number[] };
  run(ref: string, env: Record<string, string>): Container;
}

/** An image's Docker config object (the same fields in buildah's and Docker's inspect) as ImageConfig. */
function imageConfig(c: Record<string, unknown>): ImageConfig {
  const hc = c.Healthcheck as { Test?: string[] } | undefined;
  return { user: String(c.User ?? ''), entrypoint: (c.Entrypoint as string[]) ?? [], cmd: (c.Cmd as string[]) ?? [], env: (c.Env as string[]) ?? [], workingDir: String(c.WorkingDir ?? '/'), healthcheck: hc?.Test, labels: (c.Labels as Record<string, string> | null) ?? {} };
}

const quiet = (cmd: string, args: string[]): boolean => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;

/** The PIDs below `pid` in the process tree (Linux /proc). */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // it ended meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/** A process's command name (comm). */
export const commOf = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
};

const untilFound = async <T>(find: () => T | undefined, what: string, ms = 30_000): Promise<T> => {
  const end = Date.now() + ms;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

/** Every file of a tree with what identifies its content (size, mtime, mode), for a before/after comparison. */
function snapshot(root: string, skip: Set<string>): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(root, rel))) {
      const path = `${rel}/${name}`;
      if (skip.has(path)) continue;
      const st = lstatSync(join(root, path));
      out.set(path, `${st.size}:${st.mtimeMs}:${st.mode}`);
      if (st.isDirectory()) walk(path);
    }
  };
  walk('');
  return out;
}

/** Paths whose entry differs between two snapshots. */
function differences(before: Map<string, string>, after: Map<string, string>): string[] {
  const changed = new Set<string>();
  for (const [p, v] of after) if (before.get(p) !== v) changed.add(p);
  for (const p of before.keys()) if (!after.has(p)) changed.add(p);
  return [...changed].sort();
}

export class Buildah implements Engine {
  readonly name = 'buildah';
  private readonly base = ['--isolation', 'chroot', '--network', 'host'];

  hasImage(ref: string): boolean {
    return quiet('buildah', ['inspect', '--type', 'image', ref]);
  }

  pull(ref: string): boolean {
    return spawnSync('buildah', ['pull', '--quiet', ref], { stdio: 'ignore', timeout: 120_000 }).status === 0;
  }

  build(tag: string, buildArgs: Record<string, string>): void {
    // buildah 1.28 leaves TARGETARCH unset; BuildKit sets it.
    const args = { TARGETARCH: process.arch === 'x64' ? 'amd64' : process.arch, ...buildArgs };
    sh('buildah', ['bud', '--format', 'docker', ...this.base, '--layers=false', ...Object.entries(args).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]), '-t', tag, '.']);
  }

  config(ref: string): ImageConfig {
    return imageConfig((JSON.parse(sh('buildah', ['inspect', '--type', 'image', ref], { quiet: true })) as { Docker: { config: Record<string, unknown> } }).Docker.config);
  }

  sizes(ref: string): { total: number; layers: number[] } {
    const diffIds = (JSON.parse(sh('buildah', ['inspect', '--type', 'image', ref], { quiet: true })) as { Docker: { rootfs: { diff_ids: string[] } } }).Docker.rootfs.diff_ids;
    const graphRoot = sh('buildah', ['info', '--format', '{{.store.GraphRoot}}'], { quiet: true }).trim();
    const driver = sh('buildah', ['info', '--format', '{{.store.GraphDriverName}}'], { quiet: true }).trim();
    const layers = JSON.parse(readFileSync(join(graphRoot, `${driver}-layers`, 'layers.json'), 'utf8')) as { 'diff-digest': string; 'diff-size': number }[];
    const sizes = diffIds.map((d) => layers.find((l) => l['diff-digest'] === d)?.['diff-size'] ?? NaN);
    return { total: sizes.reduce((a, b) => a + b, 0), layers: sizes };
  }

  run(ref: string, env: Record<string, string>): Container {
    const name = sh('buildah', ['from', '--pull=never', ref], { quiet: true }).trim();
    const mnt = sh('buildah', ['mount', name], { quiet: true }).trim();
    // The engine's own mount points for a run, made in the root filesystem.
    const skip = new Set(['/proc', '/sys', '/dev', '/run']);
    const before = snapshot(mnt, skip);
    const cfg = this.config(ref);
    const envArgs = Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]);
    const child: ChildProcess = spawn('buildah', ['run', ...this.base, ...envArgs, name, '--', ...cfg.entrypoint, ...cfg.cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const entrypoint = cfg.entrypoint[0] ?? cfg.cmd[0] ?? '';
    const comm = entrypoint.split('/').pop()!.slice(0, 15);
    const base = this.base;
    return {
      name,
      exited,
      entrypointPid: () => untilFound(() => descendants(child.pid!).find((p) => commOf(p) === comm), `the entrypoint (${comm}) to start`),
      exec(argv) {
        const r = spawnSync('buildah', ['run', ...base, ...envArgs, name, '--', ...argv], { encoding: 'utf8', timeout: 60_000 });
        return { status: r.status, output: `${r.stdout}${r.stderr}` };
      },
      async signal(sig) {
        process.kill(await this.entrypointPid(), sig);
      },
      changes: () => differences(before, snapshot(mnt, skip)),
      logs: () => output,
      remove() {
        if (child.exitCode === null) child.kill('SIGKILL');
        spawnSync('buildah', ['rm', name], { stdio: 'ignore' });
      },
    };
  }
}

export class Docker implements Engine {
  readonly name = 'docker';
  static available(): boolean {
    return quiet('docker', ['info']);
  }

  hasImage(ref: string): boolean {
    return quiet('docker', ['image', 'inspect', ref]);
  }

  pull(ref: string): boolean {
    return spawnSync('docker', ['pull', '--quiet', ref], { stdio: 'ignore', timeout: 300_000 }).status === 0;
  }

  build(tag: string, buildArgs: Record<string, string>): void {
    sh('docker', ['build', ...Object.entries(buildArgs).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]), '-t', tag, '.']);
  }

  config(ref: string): ImageConfig {
    return imageConfig((JSON.parse(sh('docker', ['image', 'inspect', ref], { quiet: true })) as { Config: Record<string, unknown> }[])[0]!.Config);
  }

  sizes(ref: string): { total: number; layers: number[] } {
    // docker history lists the newest layer first, with its size in bytes.
    const layers = sh('docker', ['history', '--no-trunc', '--human=false', '--format', '{{.Size}}', ref], { quiet: true }).trim().split('\n').map(Number).reverse();
    return { total: Number(sh('docker', ['image', 'inspect', '-f', '{{.Size}}', ref], { quiet: true }).trim()), layers };
  }

  run(ref: string, env: Record<string, string>): Container {
    const name = `mlapi-smoke-${process.pid}-${Date.now()}`;
    sh('docker', ['run', '-d', '--network', 'host', '--name', name, ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]), ref], { quiet: true });
    const exited = new Promise<number | null>((resolve) => {
      const w = spawn('docker', ['wait', name], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      w.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      w.once('exit', () => resolve(out.trim() === '' ? null : Number(out.trim())));
    });
    return {
      name,
      exited,
      entrypointPid: () => untilFound(() => Number(sh('docker', ['inspect', '-f', '{{.State.Pid}}', name], { quiet: true }).trim()) || undefined, 'the container to start'),
      exec(argv) {
        const r = spawnSync('docker', ['exec', name, ...argv], { encoding: 'utf8', timeout: 60_000 });
        return { status: r.status, output: `${r.stdout}${r.stderr}` };
      },
      async signal(sig) {
        sh('docker', ['kill', '--signal', sig, name], { quiet: true });
      },
      // "C /tmp", "A /tmp/model-cache": the path after the kind.
      changes: () => sh('docker', ['diff', name], { quiet: true }).trim().split('\n').filter(Boolean).map((l) => l.slice(2)),
      logs: () => {
        const r = spawnSync('docker', ['logs', name], { encoding: 'utf8' });
        return `${r.stdout}${r.stderr}`;
      },
      remove() {
        spawnSync('docker', ['rm', '-f', name], { stdio: 'ignore' });
      },
    };
  }
}
