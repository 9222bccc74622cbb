/**
 * A repository folder: `<root>/<name>/[config.json]` and `<root>/<name>/<version>/`.
 * Symbolic links, hidden folders (staging areas such as `.tmp-3`) and names that are not
 * model names or versions are never followed or loaded.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { isModelName, isVersion, printable } from './names.js';
import { DEFAULT_MODEL_CONFIG, parseModelConfig } from './model-config.js';
import type { RefusedEntry, RepositorySource, ScanResult, SourceModel, SourceVersion } from './source.js';
import { COMPLETE_MARKER, RECIPE_MARKER } from './version-files.js';

const MAX_CONFIG_BYTES = 64 * 1024;

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
