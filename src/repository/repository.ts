/**
 * The model repository: name → versions → state. It scans its source, loads the versions each
 * model's policy selects, swaps a new or changed version in only once it has loaded and passed
 * its check, and disposes a retired one after the requests holding it have finished. A
 * version that fails to load never replaces one that serves (availability-preserving, as TF
 * Serving's policy). Fastify-free: serving/errors.ts gives its errors their codes.
 */
import { createHash } from 'node:crypto';
import { ConfigConflictError, InvalidModelRefError, ModelUnavailableError, UnknownModelError, UnknownVersionError } from './errors.js';
import { byVersionDesc, isModelName, isVersion } from './names.js';
import { revisionOf, selectVersions, type ConfigChange, type ModelConfig } from './model-config.js';
import { Instance } from './instance.js';
import type { RepositorySource, SourceModel, SourceVersion } from './source.js';
import type { Lease, Loader, ModelStatus, RepositoryEvents, RepositoryOptions, Servable, VersionState, VersionStatus } from './types.js';

/** Unloaded by an admin call (recorded in config.json): nothing loads until the next admin load. */
function held(e: { config: ModelConfig }): boolean {
  return e.config.unloaded === true;
}

export type { Lease, LoadRequest, Loader, ModelStatus, RepositoryEvents, RepositoryOptions, Servable, VersionState, VersionStatus } from './types.js';

interface Slot<T extends Servable> {
  version: string;
  state: VersionState;
  reason?: string;
  current?: Instance<T>;
  /** The fingerprint last tried, so a broken version is not reloaded every poll. */
  attempted?: string;
}

interface Entry<T extends Servable> {
  name: string;
  config: ModelConfig;
  configProblem?: string;
  slots: Map<string, Slot<T>>;
  /** Serializes scans, loads and unloads of this model. */
  lock: Promise<void>;
}

export class ModelRepository<T extends Servable> {
  private readonly entries = new Map<string, Entry<T>>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private failures = 0;
  private started: Promise<void> = Promise.resolve();
  /** True once the first scan succeeded and every model in it had its first load attempt. */
  startupSettled = false;

  constructor(
    private readonly source: RepositorySource,
    private readonly loader: Loader<T>,
    private readonly opts: RepositoryOptions,
    private readonly events: RepositoryEvents<T> = {},
  ) {}

  get location(): string {
    return this.source.location;
  }

  /** Scan and load in the background (retrying while the source is down), then poll. */
  start(): void {
    this.started = this.cycle();
  }

  /** Resolves once the first load attempt of every model at start has finished. */
  async settled(): Promise<void> {
    await this.started;
  }

  /** Every model's status, by name. */
  list(): ModelStatus[] {
    return [...this.entries.values()].sort((a, b) => a.name.localeCompare(b.name)).map((e) => this.statusOf(e));
  }

  /** One model's status; throws for an invalid or unknown name. */
  status(name: string): ModelStatus {
    return this.statusOf(this.entry(name));
  }

  /** One version's status; throws for an invalid or unknown name or version. */
  versionStatus(name: string, version: string): VersionStatus & { served?: T } {
    const slot = this.slot(this.entry(name), version);
    return { version: slot.version, state: slot.state, ...(slot.reason ? { reason: slot.reason } : {}), served: slot.current?.value };
  }

  /** The served value of a model's default version (or of `version`) without holding it. */
  peek(name: string, version?: string): T | undefined {
    const e = this.entries.get(name);
    if (!e) return undefined;
    const v = version ?? this.defaultVersion(e);
    const slot = v === undefined ? undefined : e.slots.get(v);
    return slot?.state === 'AVAILABLE' ? slot.current?.value : undefined;
  }

  /** Every available version's served value. */
  available(): { name: string; version: string; value: T }[] {
    return [...this.entries.values()].flatMap((e) =>
      [...e.slots.values()].flatMap((s) => (s.state === 'AVAILABLE' && s.current ? [{ name: e.name, version: s.version, value: s.current.value }] : [])),
    );
  }

  /** The `traffic` section of a model's config.json as last read (unchecked), and the problem with the file, if any. */
  trafficConfig(name: string): { raw: unknown; configProblem?: string } {
    const e = this.entry(name);
    return { raw: e.config.traffic, ...(e.configProblem ? { configProblem: e.configProblem } : {}) };
  }

  /** The AVAILABLE versions of a model. */
  availableVersions(name: string): Set<string> {
    const e = this.entries.get(name);
    return new Set(e ? [...e.slots.values()].filter((s) => s.state === 'AVAILABLE' && s.current).map((s) => s.version) : []);
  }

  /**
   * Take serving version `value` of `name` out of service (its runtime keeps crashing on it):
   * FAILED with `reason`, and not loaded again until its files change or an admin loads it.
   * Requests holding it finish (or fail) first; then it is disposed.
   */
  quarantine(name: string, version: string, value: T, reason: string): void {
    const slot = this.entries.get(name)?.slots.get(version);
    const instance = slot?.current;
    if (!slot || instance?.value !== value) return;
    slot.current = undefined;
    slot.state = 'FAILED';
    slot.reason = reason;
    void instance.retire();
  }

  /** Whether an admin unloaded `name` (it stays unloaded until an admin load). */
  isUnloaded(name: string): boolean {
    const e = this.entries.get(name);
    return e !== undefined && held(e);
  }

  /** The revision of a model's config.json this process serves, and a digest of its content (the same on every replica that read the same file). */
  configRevision(name: string): { revision: number; digest: string } {
    const e = this.entry(name);
    return { revision: revisionOf(e.config), digest: createHash('sha256').update(JSON.stringify(e.config)).digest('hex').slice(0, 12) };
  }

  /** Whether `name` has an AVAILABLE version serving requests that name none. */
  isReady(name: string): boolean {
    return this.peek(name) !== undefined;
  }

  /** Hold the version that serves a request: it is not disposed before `release()`. */
  acquire(name: string, version?: string): Lease<T> {
    const e = this.entry(name);
    let slot: Slot<T> | undefined;
    if (version !== undefined) {
      slot = this.slot(e, version);
    } else {
      const v = this.defaultVersion(e);
      if (v === undefined) throw this.unavailable(e);
      slot = e.slots.get(v);
    }
    const instance = slot?.current;
    if (!slot || slot.state !== 'AVAILABLE' || !instance) {
      const why = slot?.state === 'FAILED' ? `failed to load: ${slot.reason ?? 'unknown error'}` : `is ${slot?.state.toLowerCase() ?? 'not loaded'}`;
      throw new ModelUnavailableError(`version ${slot?.version ?? version ?? ''} of model '${name}' ${why}`, slot?.state === 'LOADING' ? 2 : 30);
    }
    instance.leases++;
    let released = false;
    return {
      value: instance.value,
      name: e.name,
      version: slot.version,
      release: () => {
        if (released) return;
        released = true;
        instance.release();
      },
    };
  }

  /** Re-read a model's folder now: load new or changed versions, retry failed ones. */
  async reload(name: string): Promise<ModelStatus> {
    const model = await this.readModel(name);
    await this.sync(name, model, true);
    return this.status(name);
  }

  /**
   * Serve a model again after an admin unload (or load one added since the last scan). The
   * decision is recorded in its config.json, so every replica reading the repository follows.
   */
  async load(name: string): Promise<ModelStatus> {
    const model = await this.readModel(name);
    // An unload recorded in a file that no longer parses cannot be undone through the server.
    if (model.configProblem && this.isUnloaded(name)) throw new ConfigConflictError('config-invalid', `${model.configProblem}; fix the file before loading the model through the server`);
    if (model.config.unloaded) {
      await this.change(name, { update: ({ unloaded: _, ...rest }) => rest }, true);
    } else {
      await this.sync(name, model, true);
    }
    return this.status(name);
  }

  /** Unload every version of a model and keep it unloaded, on every replica, until an admin load (recorded in its config.json). */
  async unload(name: string): Promise<ModelStatus> {
    const e = this.entry(name);
    if (!held(e)) await this.change(name, { update: (c) => ({ ...c, unloaded: true }) }, false);
    return this.statusOf(e);
  }

  /**
   * Record a traffic policy (undefined: none) in the model's config.json, under the version
   * check of `expectedRevision` when given, and take it in here at once. Returns the revision.
   */
  async setTraffic(name: string, policy: unknown, expectedRevision?: number): Promise<number> {
    this.entry(name);
    return this.change(name, { update: ({ traffic: _, ...rest }) => (policy === undefined ? rest : { ...rest, traffic: policy }), ...(expectedRevision !== undefined && { expectedRevision }) }, false);
  }

  /** Re-read one model's config and versions now (another replica changed it). */
  async refresh(name: string): Promise<void> {
    if (!isModelName(name) || this.closed) return;
    await this.sync(name, await this.source.scanModel(name), false);
  }

  /** Re-read the whole repository now (after missing notices of changes); false when it could not be read. */
  rescan(): Promise<boolean> {
    return this.closed ? Promise.resolve(false) : this.scanAll();
  }

  /** Write a change to config.json (under the fleet's lock, if any), then bring the model in line with it here. */
  private async change(name: string, change: ConfigChange, force: boolean): Promise<number> {
    const release = await this.opts.configLock?.(name);
    let revision: number;
    try {
      revision = await this.source.writeConfig(name, change);
    } finally {
      await release?.();
    }
    this.events.onConfigWritten?.(name, revision);
    await this.sync(name, await this.readModel(name), force);
    return revision;
  }

  /** Stop polling and dispose every version now (the server has stopped taking requests). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.started.catch(() => undefined);
    await Promise.all([...this.entries.values()].map((e) => this.locked(e, () => this.retireAll(e))));
  }

  private async readModel(name: string): Promise<SourceModel> {
    if (!isModelName(name)) throw new InvalidModelRefError('name', name);
    const model = await this.source.scanModel(name);
    if (!model) throw new UnknownModelError(name);
    return model;
  }

  private entry(name: string): Entry<T> {
    if (!isModelName(name)) throw new InvalidModelRefError('name', name);
    const e = this.entries.get(name);
    if (e) return e;
    // Before the first scan has finished nobody knows yet whether it exists.
    if (!this.startupSettled) throw new ModelUnavailableError('the model repository is still loading', 2);
    throw new UnknownModelError(name);
  }

  private slot(e: Entry<T>, version: string): Slot<T> {
    if (!isVersion(version)) throw new InvalidModelRefError('version', version);
    const slot = e.slots.get(version);
    if (!slot) throw new UnknownVersionError(e.name, version);
    return slot;
  }

  private unavailable(e: Entry<T>): ModelUnavailableError {
    const slots = [...e.slots.values()];
    if (held(e)) return new ModelUnavailableError(`model '${e.name}' is unloaded`, 30);
    if (e.config.default_version !== undefined) {
      const s = e.slots.get(e.config.default_version);
      return new ModelUnavailableError(`the default version ${e.config.default_version} of model '${e.name}' is ${s ? s.state.toLowerCase() : 'not loaded'}${s?.reason ? `: ${s.reason}` : ''}`, s?.state === 'LOADING' ? 2 : 30);
    }
    if (slots.some((s) => s.state === 'LOADING')) return new ModelUnavailableError(`model '${e.name}' is still loading`, 2);
    const failed = slots.find((s) => s.state === 'FAILED');
    if (failed) return new ModelUnavailableError(`model '${e.name}' has no available version: version ${failed.version} failed to load: ${failed.reason ?? ''}`, 30);
    return new ModelUnavailableError(`model '${e.name}' has no version to serve`, 30);
  }

  private defaultVersion(e: Entry<T>): string | undefined {
    const pinned = e.config.default_version;
    if (pinned !== undefined) return e.slots.get(pinned)?.state === 'AVAILABLE' ? pinned : undefined;
    return [...e.slots.values()].filter((s) => s.state === 'AVAILABLE').map((s) => s.version).sort(byVersionDesc)[0];
  }

  private statusOf(e: Entry<T>): ModelStatus {
    return {
      name: e.name,
      default_version: this.defaultVersion(e) ?? null,
      versions: [...e.slots.values()]
        .sort((a, b) => byVersionDesc(a.version, b.version))
        .map((s) => ({ version: s.version, state: s.state, ...(s.reason ? { reason: s.reason } : {}) })),
    };
  }

  /** First scan (retried with backoff), first loads, then the poll loop. */
  private async cycle(): Promise<void> {
    const ok = await this.scanAll();
    if (ok && !this.startupSettled) this.startupSettled = true;
    if (this.closed) return;
    // A source that cannot be read is retried with backoff, even when polling is off.
    if (!ok || this.opts.pollIntervalS > 0) {
      const delay = ok ? this.opts.pollIntervalS : this.backoffS();
      this.timer = setTimeout(() => void this.cycle(), delay * 1000);
      this.timer.unref();
    }
  }

  private backoffS(): number {
    return Math.min(Math.max(this.opts.pollIntervalS, 1) * 2 ** (this.failures - 1), this.opts.maxBackoffS ?? 300);
  }

  /** Scan the source and bring every model in line; false when the source could not be read. */
  private async scanAll(): Promise<boolean> {
    let scan;
    try {
      scan = await this.source.scan();
      this.failures = 0;
    } catch (err) {
      this.failures++;
      this.events.onSourceError?.(err, this.backoffS());
      return false;
    }
    if (scan.refused.length > 0) this.events.onRefused?.(scan.refused);
    const seen = new Set(scan.models.map((m) => m.name));
    await Promise.all(scan.models.map((m) => this.sync(m.name, m, false)));
    // Models whose folder is gone: unload and forget them.
    await Promise.all([...this.entries.keys()].filter((n) => !seen.has(n)).map((n) => this.sync(n, undefined, false)));
    return true;
  }

  private locked<R>(e: Entry<T>, step: () => Promise<R>): Promise<R> {
    const run = e.lock.then(step);
    e.lock = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Bring one model in line with the source (`model` undefined: it is gone). */
  private sync(name: string, model: SourceModel | undefined, force: boolean): Promise<void> {
    let e = this.entries.get(name);
    if (!e) {
      if (!model) return Promise.resolve();
      e = { name, config: model.config, slots: new Map(), lock: Promise.resolve() };
      this.entries.set(name, e);
    }
    const entry = e;
    return this.locked(entry, async () => {
      if (this.closed) return;
      if (!model) {
        await this.retireAll(entry);
        if (this.entries.get(name) === entry && entry.slots.size === 0) this.entries.delete(name);
        return;
      }
      if (model.configProblem) {
        if (entry.configProblem !== model.configProblem) this.events.onConfigProblem?.(name, model.configProblem);
        entry.configProblem = model.configProblem;
      } else {
        entry.configProblem = undefined;
        entry.config = model.config;
      }
      if (held(entry)) {
        await this.retireAll(entry);
        return;
      }
      const wanted = selectVersions(entry.config.version_policy, model.versions.map((v) => v.version));
      await Promise.all(
        wanted.map((v) => {
          const sv = model.versions.find((x) => x.version === v)!;
          return this.loadIfNeeded(entry, sv, force);
        }),
      );
      // Retire versions the policy no longer wants, but never leave the model with nothing to
      // serve because its replacement failed.
      const replaced = wanted.length === 0 || wanted.some((v) => entry.slots.get(v)?.state === 'AVAILABLE');
      const retiring: Promise<void>[] = [];
      for (const slot of [...entry.slots.values()]) {
        if (wanted.includes(slot.version)) continue;
        if (slot.state === 'FAILED') entry.slots.delete(slot.version);
        else if (slot.state === 'AVAILABLE' && replaced) retiring.push(this.retire(entry, slot));
      }
      await Promise.all(retiring);
    });
  }

  private async loadIfNeeded(e: Entry<T>, sv: SourceVersion, force: boolean): Promise<void> {
    let slot = e.slots.get(sv.version);
    if (slot?.state === 'UNLOADING') return;
    if (slot && slot.attempted === sv.fingerprint && !(force && slot.state === 'FAILED')) return;
    if (!slot) {
      slot = { version: sv.version, state: 'LOADING' };
      e.slots.set(sv.version, slot);
    } else if (!slot.current) {
      slot.state = 'LOADING';
      slot.reason = undefined;
    }
    slot.attempted = sv.fingerprint;
    try {
      if (sv.problem) throw new Error(sv.problem);
      const dir = await this.source.materialize(e.name, sv);
      const value = await this.loader({ name: e.name, version: sv.version, revision: sv.fingerprint.slice(0, 12), dir });
      if (this.closed) {
        await value.dispose();
        return;
      }
      // The switch: new requests get the new copy; the old one finishes what it holds.
      const old = slot.current;
      slot.current = new Instance(value);
      slot.state = 'AVAILABLE';
      slot.reason = undefined;
      this.events.onLoaded?.(e.name, sv.version, value);
      if (old) void old.retire();
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.events.onLoadFailed?.(e.name, sv.version, reason);
      if (slot.current) {
        // A changed copy of a serving version failed: the loaded copy keeps serving.
        slot.reason = `new files could not be loaded, still serving the previous ones: ${reason}`;
      } else {
        slot.state = 'FAILED';
        slot.reason = reason;
      }
    }
  }

  private async retire(e: Entry<T>, slot: Slot<T>): Promise<void> {
    const instance = slot.current;
    slot.state = 'UNLOADING';
    slot.reason = undefined;
    if (instance) await instance.retire();
    if (e.slots.get(slot.version) === slot) e.slots.delete(slot.version);
    this.events.onUnloaded?.(e.name, slot.version);
  }

  private async retireAll(e: Entry<T>): Promise<void> {
    await Promise.all(
      [...e.slots.values()].map((slot) => {
        if (slot.state === 'AVAILABLE') return this.retire(e, slot);
        e.slots.delete(slot.version);
        return Promise.resolve();
      }),
    );
  }
}
