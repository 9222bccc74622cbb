/**
 * A repository in an S3-compatible store: `s3://bucket/prefix/<name>/<version>/<files>`.
 * A version is downloaded into MODEL_CACHE_DIR through a private staging folder, every object
 * checked against the listing (size, and MD5 where the ETag is one), then renamed into place
 * in one step, so a loader never sees half a version. Keys that would escape the version
 * folder, and versions larger than MODEL_MAX_BYTES, are refused before anything is fetched.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { ConfigConflictError } from './errors.js';
import { isModelName, isVersion, printable } from './names.js';
import { applyConfigChange, DEFAULT_MODEL_CONFIG, MAX_CONFIG_BYTES, parseModelConfig, revisionOf, type ConfigChange } from './model-config.js';
import type { RefusedEntry, RepositorySource, ScanResult, SourceModel, SourceVersion } from './source.js';
import { COMPLETE_MARKER, isContainedPath, RECIPE_MARKER } from './version-files.js';

/** Attempts of a change with no expected revision while other writers keep winning. */
const WRITE_ATTEMPTS = 8;

export interface S3SourceOptions {
  endpoint?: string;
  forcePathStyle: boolean;
  cacheDir: string;
  maxBytes: number;
  /** Per request; a store that does not answer in time counts as down. */
  timeoutMs?: number;
}

interface ListedObject {
  key: string;
  size: number;
  etag: string;
}

/** `s3://bucket/prefix` → bucket and prefix (ending in '/' unless empty). */
function parseS3Url(url: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (!m) throw new Error(`not an s3://bucket[/prefix] URL: ${url}`);
  const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
  return { bucket: m[1]!, prefix: prefix ? `${prefix}/` : '' };
}

/** An object's ETag is its MD5 only for single-part uploads without SSE-KMS: 32 hex digits. */
function md5Of(etag: string): string | undefined {
  const bare = etag.replace(/"/g, '').toLowerCase();
  return /^[0-9a-f]{32}$/.test(bare) ? bare : undefined;
}

interface VersionObjects {
  files: { path: string; object: ListedObject }[];
  problem?: string;
}

export class S3Source implements RepositorySource {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  /** The objects of each listed version: model name → `<version>/<fingerprint>` → objects. */
  private readonly listed = new Map<string, Map<string, VersionObjects>>();

  constructor(
    readonly location: string,
    private readonly opts: S3SourceOptions,
  ) {
    ({ bucket: this.bucket, prefix: this.prefix } = parseS3Url(location));
    const timeout = opts.timeoutMs ?? 10_000;
    this.client = new S3Client({
      ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
      forcePathStyle: opts.forcePathStyle,
      region: process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || 'us-east-1',
      maxAttempts: 2,
      requestHandler: { connectionTimeout: timeout, requestTimeout: timeout },
    });
  }

  async scan(): Promise<ScanResult> {
    const result = await this.scanUnder(this.prefix);
    const seen = new Set(result.models.map((m) => m.name));
    for (const name of [...this.listed.keys()]) if (!seen.has(name)) this.listed.delete(name);
    return result;
  }

  async scanModel(name: string): Promise<SourceModel | undefined> {
    if (!isModelName(name)) return undefined;
    const { models } = await this.scanUnder(`${this.prefix}${name}/`);
    return models.find((m) => m.name === name);
  }

  async materialize(name: string, version: SourceVersion): Promise<string> {
    const objects = this.listed.get(name)?.get(`${version.version}/${version.fingerprint}`);
    if (!objects) throw new Error(`version ${version.version} of ${name} changed in the store since it was listed; it is retried at the next scan`);
    if (objects.problem) throw new Error(objects.problem);
    const target = join(this.opts.cacheDir, name, `${version.version}-${version.fingerprint.slice(0, 16)}`);
    if (await stat(join(target, COMPLETE_MARKER)).catch(() => undefined)) return target;
    const staging = join(this.opts.cacheDir, '.staging', randomUUID());
    try {
      for (const { path, object } of objects.files) await this.download(object, join(staging, path));
      await mkdir(dirname(target), { recursive: true });
      await rm(target, { recursive: true, force: true });
      await rename(staging, target);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
    return target;
  }

  /**
   * A conditional put: If-Match the ETag read (If-None-Match: * when there was none), so the
   * store refuses the second of two writers that read the same object (AWS S3, MinIO and
   * Ceph do; a store that ignores the conditions needs the fleet's Redis lock as well).
   */
  async writeConfig(name: string, change: ConfigChange): Promise<number> {
    const key = `${this.prefix}${name}/config.json`;
    for (let attempt = 1; ; attempt++) {
      const current = await this.read(key);
      const { text, revision } = applyConfigChange(current?.text, change);
      try {
        await this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: key,
            Body: text,
            ContentType: 'application/json',
            ...(current ? { IfMatch: current.etag } : { IfNoneMatch: '*' }),
          }),
        );
        return revision;
      } catch (err) {
        const status = err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined;
        if (status === 403) throw new ConfigConflictError('repository-read-only', `the store refused to write ${key} (${(err as Error).name}): run-time changes are recorded in <model>/config.json, so they need write access`);
        // 412: another writer got there first; 409: one is writing now.
        if (status !== 412 && status !== 409) throw err;
        if (change.expectedRevision !== undefined || attempt >= WRITE_ATTEMPTS) {
          const now = await this.read(key);
          let revision = 0;
          try {
            revision = now ? revisionOf(parseModelConfig(now.text)) : 0;
          } catch {
            // An invalid file: the conflict is reported without its revision.
          }
          throw new ConfigConflictError('revision-conflict', `config.json changed while it was being written (now at revision ${revision}); read it again`, revision);
        }
      }
    }
  }

  /** An object's text and ETag, or undefined when there is none. */
  private async read(key: string): Promise<{ text: string; etag: string } | undefined> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if ((res.ContentLength ?? 0) > MAX_CONFIG_BYTES) throw new ConfigConflictError('config-invalid', `config.json is ${res.ContentLength} bytes; the limit is ${MAX_CONFIG_BYTES}`);
      return { text: (await res.Body?.transformToString('utf8')) ?? '', etag: res.ETag ?? '' };
    } catch (err) {
      if (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404) return undefined;
      throw err;
    }
  }

  private async scanUnder(prefix: string): Promise<ScanResult> {
    const objects = await this.list(prefix);
    const refused: RefusedEntry[] = [];
    const models = new Map<string, SourceModel>();
    const versions = new Map<string, Map<string, VersionObjects>>();
    const configs = new Map<string, ListedObject>();
    for (const object of objects) {
      const rel = object.key.slice(this.prefix.length);
      const [name = '', second = '', ...rest] = rel.split('/');
      if (!isModelName(name)) {
        if (name) refused.push({ entry: printable(name), reason: 'not a valid model name' });
        continue;
      }
      if (!models.has(name)) models.set(name, { name, config: DEFAULT_MODEL_CONFIG, versions: [] });
      if (rest.length === 0) {
        if (second === 'config.json') configs.set(name, object);
        continue;
      }
      if (!isVersion(second)) continue;
      const byVersion = versions.get(name) ?? new Map<string, VersionObjects>();
      versions.set(name, byVersion);
      const v = byVersion.get(second) ?? { files: [] };
      byVersion.set(second, v);
      const path = rest.join('/');
      if (!isContainedPath(path)) v.problem ??= `the store holds a key that escapes the version folder: ${printable(object.key)}`;
      else v.files.push({ path, object });
    }
    for (const [name, model] of models) {
      const listed = new Map<string, VersionObjects>();
      this.listed.set(name, listed);
      const config = configs.get(name);
      if (config) {
        try {
          if (config.size > MAX_CONFIG_BYTES) throw new Error(`config.json is ${config.size} bytes; the limit is ${MAX_CONFIG_BYTES}`);
          const read = await this.read(config.key);
          if (!read) throw new Error('config.json was removed while the store was read; the next scan reads it again');
          model.config = parseModelConfig(read.text);
        } catch (err) {
          model.configProblem = err instanceof Error ? err.message : String(err);
        }
      }
      for (const [version, v] of versions.get(name) ?? []) {
        if (!v.files.some((f) => f.path === COMPLETE_MARKER || f.path === RECIPE_MARKER)) continue;
        const total = v.files.reduce((n, f) => n + f.object.size, 0);
        if (total > this.opts.maxBytes) v.problem ??= `the version holds ${total} bytes; MODEL_MAX_BYTES is ${this.opts.maxBytes}`;
        const hash = createHash('sha256');
        for (const f of [...v.files].sort((a, b) => a.path.localeCompare(b.path))) hash.update(`${f.path}\t${f.object.size}\t${f.object.etag}\n`);
        if (v.problem) hash.update(v.problem);
        const fingerprint = hash.digest('hex');
        listed.set(`${version}/${fingerprint}`, v);
        model.versions.push({ version, fingerprint, ...(v.problem ? { problem: v.problem } : {}) });
      }
    }
    return { models: [...models.values()], refused };
  }

  private async list(prefix: string): Promise<ListedObject[]> {
    const out: ListedObject[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of page.Contents ?? []) {
        if (o.Key && !o.Key.endsWith('/')) out.push({ key: o.Key, size: o.Size ?? 0, etag: o.ETag ?? '' });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  /** Stream one object to `file`, never past its listed size, and check it. */
  private async download(object: ListedObject, file: string): Promise<void> {
    await mkdir(dirname(file), { recursive: true });
    const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: object.key }));
    if (!(res.Body instanceof Readable)) throw new Error(`no body for ${object.key}`);
    const md5 = createHash('md5');
    let bytes = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        if (bytes > object.size) return done(new Error(`${object.key} is larger than the ${object.size} bytes listed`));
        md5.update(chunk);
        done(null, chunk);
      },
    });
    await pipeline(res.Body, meter, createWriteStream(file, { flags: 'wx' }));
    if (bytes !== object.size) throw new Error(`${object.key}: downloaded ${bytes} bytes, listed ${object.size}`);
    const expected = md5Of(object.etag);
    if (expected && md5.digest('hex') !== expected) throw new Error(`${object.key}: content does not match its ETag`);
  }
}
