/**
 * A repository folder: `<root>/<name>/[config.json]` and `<root>/<name>/<version>/`.
 * Symbolic links, hidden folders (staging areas such as `.tmp-3`) and names that are not
 * model names or versions are never followed or loaded.
 */
import { createHash, randomUUID } from 'node:crypto';
import { open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigConflictError } from './errors.js';
import { isModelName, isVersion, printable } from './names.js';
import { applyConfigChange, DEFAULT_MODEL_CONFIG, MAX_CONFIG_BYTES, parseModelConfig, type ConfigChange } from './model-config.js';
import type { RefusedEntry, RepositorySource, ScanResult, SourceModel, SourceVersion } from './source.js';
import { COMPLETE_MARKER, RECIPE_MARKER } from './version-files.js';

/** A writer holds `<model>/.config.lock` at most this long; an older one was left by a crash. */
const STALE_LOCK_MS = 10_000;
const LOCK_WAIT_MS = 5_000;

/** Errors of a folder that cannot be written (mounted read-only, not ours). */
const READ_ONLY_CODES = new Set(['EROFS', 'EACCES', 'EPERM']);

/**
 * Take `path` as a lock file between processes (O_EXCL create), waiting while another holds
 * it; a lock older than STALE_LOCK_MS is taken over. Returns the release.
 */
async function lockFile(path: string): Promise<() => Promise<void>> {
  const token = randomUUID();
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(token);
      await handle.close();
      return async () => {
        // Only our own lock is removed (a stale one may have been taken over meanwhile).
        if ((await readFile(path, 'utf8').catch(() => '')) === token) await rm(path, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const held = await stat(path).catch(() => undefined);
      if (held && Date.now() - held.mtimeMs > STALE_LOCK_MS) await rm(path, { force: true });
      else if (Date.now() > deadline) throw new Error(`${path} has been held for over ${LOCK_WAIT_MS} ms by another writer`, { cause: err });
      else await sleep(5 + Math.random() * 20);
    }
  }
}

export class LocalSource implements RepositorySource {
  constructor(readonly root: string) {}

  get location(): string {
    return this.root;
  }

  async scan(): Promise<ScanResult> {
    const entries = await readdir(this.root, { withFileTypes: true });
    const models: SourceModel[] = [];
    const refused: RefusedEntry[] = [];
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      if (!e.isDirectory()) {
        if (e.isSymbolicLink()) refused.push({ entry: e.name, reason: 'symbolic links are not followed' });
        continue;
      }
      if (!isModelName(e.name)) {
        refused.push({ entry: printable(e.name), reason: 'not a valid model name' });
        continue;
      }
      models.push(await this.readModel(e.name));
    }
    return { models, refused };
  }

  async scanModel(name: string): Promise<SourceModel | undefined> {
    if (!isModelName(name)) return undefined;
    const s = await stat(join(this.root, name)).catch(() => undefined);
    if (!s?.isDirectory()) return undefined;
    return this.readModel(name);
  }

  async materialize(name: string, version: SourceVersion): Promise<string> {
    return join(this.root, name, version.version);
  }

  async writeConfig(name: string, change: ConfigChange): Promise<number> {
    const dir = join(this.root, name);
    const file = join(dir, 'config.json');
    let release: (() => Promise<void>) | undefined;
    let staged: string | undefined;
    try {
      release = await lockFile(join(dir, '.config.lock'));
      const current = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw err;
      });
      if (current !== undefined && Buffer.byteLength(current) > MAX_CONFIG_BYTES) throw new ConfigConflictError('config-invalid', `config.json is ${Buffer.byteLength(current)} bytes; the limit is ${MAX_CONFIG_BYTES}`);
      const { text, revision } = applyConfigChange(current, change);
      // Readers see the old file or the new one, never a part: written aside, then renamed.
      staged = join(dir, `.config.json.${randomUUID()}`);
      await writeFile(staged, text, { flag: 'wx' });
      await rename(staged, file);
      staged = undefined;
      return revision;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code && READ_ONLY_CODES.has(code)) throw new ConfigConflictError('repository-read-only', `the repository folder cannot be written (${code}): run-time changes are recorded in <model>/config.json, so they need a writable repository`);
      throw err;
    } finally {
      if (staged) await rm(staged, { force: true });
      await release?.();
    }
  }

  private async readModel(name: string): Promise<SourceModel> {
    const dir = join(this.root, name);
    const model: SourceModel = { name, config: DEFAULT_MODEL_CONFIG, versions: [] };
    const entries = await readdir(dir, { withFileTypes: true });
    for (const e of entries) {
      if (e.name === 'config.json' && e.isFile()) {
        try {
          const { size } = await stat(join(dir, e.name));
          if (size > MAX_CONFIG_BYTES) throw new Error(`config.json is ${size} bytes; the limit is ${MAX_CONFIG_BYTES}`);
          model.config = parseModelConfig(await readFile(join(dir, e.name), 'utf8'));
        } catch (err) {
          model.configProblem = err instanceof Error ? err.message : String(err);
        }
      } else if (e.isDirectory() && isVersion(e.name)) {
        const version = await this.readVersion(join(dir, e.name), e.name);
        if (version) model.versions.push(version);
      }
    }
    return model;
  }

  /** The version when it is complete (its marker is present), else undefined. */
  private async readVersion(dir: string, version: string): Promise<SourceVersion | undefined> {
    const files = await readdir(dir, { withFileTypes: true, recursive: true });
    if (!files.some((f) => (f.name === COMPLETE_MARKER || f.name === RECIPE_MARKER) && f.parentPath === dir && f.isFile())) return undefined;
    const hash = createHash('sha256');
    const lines: string[] = [];
    for (const f of files) {
      if (!f.isFile()) continue;
      const path = join(f.parentPath, f.name);
      const s = await stat(path);
      lines.push(`${relative(dir, path)}\t${s.size}\t${s.mtimeMs}`);
    }
    for (const line of lines.sort()) hash.update(`${line}\n`);
    return { version, fingerprint: hash.digest('hex') };
  }
}
