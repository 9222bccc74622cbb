/**
 * A local fleet on loopback, the way a deployment scales out: N replicas of the server
 * (`dist/server.js`) behind nginx (the distribution's, round robin), sharing one
 * redis-server and one S3-compatible store (s3rver) that holds the model repository.
 * Used by `npm run fleet`, the fleet tests and the bench's fleet phase.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { freePort } from './net.js';
import { RedisServer } from './redis-server.js';
import { S3_CREDENTIALS, S3Store } from './s3-store.js';
import { processTree, startFlags, stopServer, waitUntilReady } from './server-process.js';

const ROOT = join(import.meta.dirname, '..', '..');
const BUCKET = 'models';
const PREFIX = 'fleet';

/** A version folder to publish into the fleet's store. */
export interface Publish {
  name: string;
  version: string;
  dir: string;
}

export interface LocalFleetOptions {
  replicas: number;
  /** The balancer's port (0: any free one). */
  port?: number;
  /** The first replica's port; the others follow (0: free ports). */
  replicaPort?: number;
  /** What the store holds: default, every bundled model's versions. */
  publish?: Publish[];
  /** config.json per model name, written beside its versions. */
  configs?: Record<string, unknown>;
  /** Settings for every replica (on top of the fleet's own). */
  env?: Record<string, string>;
  /** Without it the fleet runs without Redis: changes spread by polling the store. */
  redis?: boolean;
  /** Replica output goes here (default: ignored). */
  log?: (replica: string, line: string) => void;
}

export interface Replica {
  name: string;
  port: number;
  base: string;
  child: ChildProcess;
}

/** Every bundled model's versions (models/<name>/<version>). */
export function bundledModels(): Publish[] {
  const repo = join(ROOT, 'models');
  return readdirSync(repo, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) =>
      readdirSync(join(repo, d.name), { withFileTypes: true })
        .filter((v) => v.isDirectory() && /^\d+$/.test(v.name))
        .map((v) => ({ name: d.name, version: v.name, dir: join(repo, d.name, v.name) })),
    );
}

/** The nginx binary: on the PATH, or where Debian puts it (/usr/sbin is not on a user's PATH). */
export function nginxBinary(): string {
  const onPath = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' }).stdout.trim();
  if (onPath) return onPath;
  if (existsSync('/usr/sbin/nginx')) return '/usr/sbin/nginx';
  throw new Error('nginx is needed for the local fleet (Debian/Ubuntu: apt-get install nginx-light; macOS: brew install nginx)');
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((f) => f.isFile())
    .map((f) => join(f.parentPath, f.name));
}

export class LocalFleet {
  readonly replicas: Replica[] = [];
  private redis: RedisServer | undefined;
  private nginxProcess: ChildProcess | undefined;
  private next = 0;
  /** How many of the replicas the balancer sends to (all when undefined). */
  private balanced: number | undefined;

  private constructor(
    private readonly opts: LocalFleetOptions,
    readonly dir: string,
    readonly port: number,
    private readonly store: S3Store,
  ) {}

  /** The balancer's address. */
  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The fleet's Redis (empty when it runs without). */
  get redisUrl(): string {
    return this.redis?.url ?? '';
  }

  get s3Endpoint(): string {
    return this.store.url;
  }

  get repository(): string {
    return `s3://${BUCKET}/${PREFIX}`;
  }

  /** Start the store, Redis, `replicas` replicas (each ready) and the balancer in front of them. */
  static async start(opts: LocalFleetOptions): Promise<LocalFleet> {
    nginxBinary();
    const dir = mkdtempSync(join(tmpdir(), 'fleet-'));
    const fleet = new LocalFleet(opts, dir, opts.port || (await freePort()), await S3Store.start());
    try {
      await fleet.publish();
      if (opts.redis !== false) await fleet.startRedis();
      await Promise.all(Array.from({ length: opts.replicas }, () => fleet.startReplica()));
      await fleet.startBalancer();
    } catch (err) {
      await fleet.stop();
      throw err;
    }
    return fleet;
  }

  /** Fill the store: the bucket, the versions to publish, and each model's config.json. */
  private async publish(): Promise<void> {
    const s3 = this.store.client();
    const key = (name: string, path: string): string => `${PREFIX}/${name}/${path}`;
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    for (const p of this.opts.publish ?? bundledModels()) {
      for (const file of listFiles(p.dir)) {
        await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key(p.name, `${p.version}/${relative(p.dir, file)}`), Body: readFileSync(file) }));
      }
    }
    for (const [name, config] of Object.entries(this.opts.configs ?? {})) {
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key(name, 'config.json'), Body: JSON.stringify(config) }));
    }
    s3.destroy();
  }

  /** Start (again) the fleet's redis-server, on its port. */
  async startRedis(): Promise<void> {
    if (!this.redis) this.redis = await RedisServer.start();
    else if (!this.redis.running) await this.redis.restart();
  }

  /** Kill redis-server as a crash would. */
  async killRedis(): Promise<void> {
    await this.redis?.kill();
  }

  /** Start one more replica (ready once it answers /ready); it joins the balancer when the balancer runs. */
  async startReplica(): Promise<Replica> {
    const index = this.next++;
    const name = `replica-${index + 1}`;
    const port = this.opts.replicaPort ? this.opts.replicaPort + index : await freePort();
    const env: Record<string, string> = {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: String(port),
      GRPC_PORT: '0',
      LOG_LEVEL: 'warn',
      MODEL_REPOSITORY: this.repository,
      S3_ENDPOINT: this.s3Endpoint,
      S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: S3_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3_CREDENTIALS.secretAccessKey,
      AWS_REGION: 'us-east-1',
      MODEL_CACHE_DIR: join(this.dir, `cache-${name}`),
      INFERENCE_WORKERS: '1',
      ...(this.opts.redis !== false && { REDIS_URL: this.redisUrl }),
      ...this.opts.env,
    };
    const child = spawn(process.execPath, [...startFlags(ROOT), 'dist/server.js'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const log = this.opts.log;
    for (const stream of [child.stdout, child.stderr]) stream?.on('data', (chunk: Buffer) => log?.(name, chunk.toString().trimEnd()));
    const replica = { name, port, base: `http://127.0.0.1:${port}`, child };
    this.replicas.push(replica);
    await waitUntilReady(replica.base, 120_000);
    if (this.nginxProcess) await this.reloadBalancer();
    return replica;
  }

  /** Stop one replica (SIGTERM, graceful) and take it out of the balancer. */
  async stopReplica(replica: Replica): Promise<void> {
    this.replicas.splice(this.replicas.indexOf(replica), 1);
    if (this.nginxProcess) await this.reloadBalancer();
    if (replica.child.exitCode === null) await stopServer(replica.child);
  }

  private writeBalancerConfig(): string {
    const file = join(this.dir, 'nginx.conf');
    const temp = join(this.dir, 'nginx');
    mkdirSync(temp, { recursive: true });
    const asRoot = process.getuid?.() === 0;
    writeFileSync(
      file,
      [
        ...(asRoot ? ['user root;'] : []),
        'daemon off;',
        'worker_processes 1;',
        `pid ${join(temp, 'nginx.pid')};`,
        `error_log ${join(temp, 'error.log')} warn;`,
        'events { worker_connections 4096; }',
        'http {',
        '  access_log off;',
        ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${join(temp, t)};`),
        '  upstream replicas {',
        ...this.replicas.slice(0, this.balanced).map((r) => `    server 127.0.0.1:${r.port} max_fails=0;`),
        '    keepalive 64;',
        '  }',
        '  server {',
        `    listen 127.0.0.1:${this.port};`,
        '    client_max_body_size 64m;',
        '    location / {',
        '      proxy_pass http://replicas;',
        '      proxy_http_version 1.1;',
        '      proxy_set_header Connection "";',
        '      proxy_set_header Host $host;',
        '      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
        '    }',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
    return file;
  }

  private async startBalancer(): Promise<void> {
    const conf = this.writeBalancerConfig();
    const child = spawn(nginxBinary(), ['-c', conf, '-p', this.dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    let errors = '';
    child.stderr?.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    this.nginxProcess = child;
    const deadline = Date.now() + 15_000;
    while (!(await fetch(`${this.base}/health`).then((r) => r.ok, () => false))) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`nginx did not start: ${errors}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Send to the first `n` replicas only (undefined: all), as scaling the fleet in and out
   * would, without restarting any; resolves once nginx's new workers answer.
   */
  async balance(n: number | undefined): Promise<void> {
    this.balanced = n;
    await this.reloadBalancer();
  }

  /**
   * Rewrite the upstreams and tell nginx (SIGHUP: new workers take the new list, the old ones
   * finish what they hold and exit); resolves once every old worker has exited, so no new
   * request can reach an upstream that was taken out.
   */
  private async reloadBalancer(): Promise<void> {
    this.writeBalancerConfig();
    const master = this.nginxProcess?.pid;
    if (master === undefined) return;
    const workers = (): number[] => processTree(master).filter((p) => p !== master);
    const old = workers();
    this.nginxProcess!.kill('SIGHUP');
    const deadline = Date.now() + 15_000;
    for (;;) {
      const now = workers();
      if (now.length > 0 && !now.some((p) => old.includes(p))) return;
      if (Date.now() > deadline) throw new Error('nginx did not replace its workers within 15 s of a reload');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(): Promise<void> {
    const exit = (child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
      if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill(signal);
      return exited;
    };
    await exit(this.nginxProcess, 'SIGQUIT');
    await Promise.all(this.replicas.splice(0).map((r) => exit(r.child)));
    await this.killRedis();
    await this.store.dispose();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
