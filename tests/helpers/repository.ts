/** Temporary model repositories built from the shipped model, changed the way operators change them. */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { SHIPPED_MODEL } from './app.js';

export type Json = Record<string, unknown>;

export class TempRepository {
  readonly root = mkdtempSync(join(tmpdir(), 'repo-'));

  /** Publish a copy of the shipped model as `<name>/<version>`, atomically (staged, then renamed). */
  publish(name: string, version: string, change?: (files: VersionFiles) => void): string {
    const staging = join(this.root, name, `.staging-${version}-${Date.now()}`);
    mkdirSync(join(this.root, name), { recursive: true });
    cpSync(SHIPPED_MODEL, staging, { recursive: true });
    change?.(new VersionFiles(staging));
    const target = join(this.root, name, version);
    rmSync(target, { recursive: true, force: true });
    renameSync(staging, target);
    return target;
  }

  /** Write files into `<name>/<version>` in place, as a careless copy would. */
  files(name: string, version: string): VersionFiles {
    return new VersionFiles(join(this.root, name, version));
  }

  config(name: string, config: Json | string): void {
    mkdirSync(join(this.root, name), { recursive: true });
    writeFileSync(join(this.root, name, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config));
  }

  remove(name: string, version?: string): void {
    rmSync(version ? join(this.root, name, version) : join(this.root, name), { recursive: true, force: true });
  }

  dispose(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

export class VersionFiles {
  constructor(readonly dir: string) {}

  json(file: string): Json {
    return JSON.parse(readFileSync(join(this.dir, file), 'utf8')) as Json;
  }

  write(file: string, content: string | Buffer): void {
    writeFileSync(join(this.dir, file), content);
  }

  metadata(change: (m: Json) => void): void {
    const m = this.json('metadata.json');
    change(m);
    this.write('metadata.json', JSON.stringify(m));
  }

  modelJson(change: (m: Json & { weightsManifest: { paths: string[]; weights: Json[] }[] }) => void): void {
    const m = this.json('model.json') as Json & { weightsManifest: { paths: string[]; weights: Json[] }[] };
    change(m);
    this.write('model.json', JSON.stringify(m));
  }

  remove(file: string): void {
    rmSync(join(this.dir, file), { force: true });
  }

  truncate(file: string, bytes: number): void {
    const data = readFileSync(join(this.dir, file));
    writeFileSync(join(this.dir, file), data.subarray(0, bytes));
  }
}

interface VersionState {
  version: string;
  state: string;
  reason?: string;
}

/** The states of a model's versions, as GET /v1/models/{name} reports them (without the runtime of loaded ones). */
export async function versionStates(app: FastifyInstance, name: string): Promise<VersionState[]> {
  const res = await app.inject({ method: 'GET', url: `/v1/models/${name}` });
  if (res.statusCode !== 200) return [];
  return (res.json() as { versions: (VersionState & { runtime?: string; backend?: string })[] }).versions.map(({ runtime: _r, backend: _b, ...state }) => state);
}

/** Poll `check` until it is true (the repository works in the background). */
export async function until(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}
