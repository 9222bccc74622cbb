/**
 * An S3-compatible store (s3rver) in a process of its own on loopback, so that a test can
 * stop it (the store down) and start it again on the same port and data. Used by the tests
 * and the local fleet.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { freePort } from './net.js';

/** s3rver's fixed credentials. */
export const S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

const SERVER = join(import.meta.dirname, 's3-server.mjs');

export class S3Store {
  private child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  /** A store on a free port (or `port`), keeping its objects in a new temporary folder; started. */
  static async start(port?: number): Promise<S3Store> {
    const store = new S3Store(port ?? (await freePort()), mkdtempSync(join(tmpdir(), 's3rver-')));
    await store.restart();
    return store;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** A client of this store. */
  client(): S3Client {
    return new S3Client({ endpoint: this.url, forcePathStyle: true, region: 'us-east-1', credentials: S3_CREDENTIALS });
  }

  /** Start (again) on the same port and data. */
  async restart(): Promise<void> {
    const child = fork(SERVER, [String(this.port), this.dir], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`s3rver exited with ${code}`)));
    });
  }

  /** Kill it as a crash would: the store is down until restart(). */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise((resolve) => {
      child.once('exit', resolve);
      child.kill('SIGKILL');
    });
  }

  /** Stop it and remove its data. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
