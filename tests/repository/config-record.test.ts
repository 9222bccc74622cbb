/**
 * Run-time state recorded in each model's config.json: written atomically under a version
 * check (a local folder: lock file and rename; S3: a conditional put), so two writers never
 * silently overwrite each other; and the admin API over it (ETag, If-Match, 409).
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigConflictError } from '../../src/repository/errors.js';
import { LocalSource } from '../../src/repository/local-source.js';
import { parseModelConfig, type ConfigChange, type RawModelConfig } from '../../src/repository/model-config.js';
import { S3Source } from '../../src/repository/s3-source.js';
import type { RepositorySource } from '../../src/repository/source.js';
import { S3_CREDENTIALS, S3Store } from '../../scripts/lib/s3-store.js';
import { buildApp, SHIPPED_REPOSITORY } from '../helpers/app.js';
import { TempRepository } from '../helpers/repository.js';

const ADMIN = 'config-admin-key-0123456789';

/** A change that adds `version` to the split it finds (a lost update would lose a key). */
const addToSplit = (version: string, expectedRevision?: number): ConfigChange => ({
  update: (c: RawModelConfig) => {
    const traffic = (c.traffic ?? { split: {} }) as { split: Record<string, number> };
    return { ...c, traffic: { split: { ...traffic.split, [version]: 1 } } };
  },
  ...(expectedRevision !== undefined && { expectedRevision }),
});

const conflict = (err: unknown): string => (err instanceof ConfigConflictError ? err.reason : `not a conflict: ${String(err)}`);

/** The contract every source keeps, run on a local folder and on an S3-compatible store. */
function recordsChanges(name: string, make: () => Promise<{ source: RepositorySource; read: () => Promise<string | undefined>; writeRaw: (text: string) => Promise<void> }>, concurrent: boolean): void {
  describe(name, () => {
    it('writes the next revision, keeping what the change leaves alone; reads back as the server parses it', async () => {
      const { source, read, writeRaw } = await make();
      await writeRaw(JSON.stringify({ version_policy: { all: {} } }));
      expect(await source.writeConfig('iris', addToSplit('1'))).toBe(1);
      expect(await source.writeConfig('iris', addToSplit('2', 1))).toBe(2);
      const config = parseModelConfig((await read())!);
      expect(config).toEqual({ version_policy: { all: {} }, traffic: { split: { '1': 1, '2': 1 } }, revision: 2 });
    });

    it('a writer naming a stale revision gets a conflict and changes nothing', async () => {
      const { source, read } = await make();
      await source.writeConfig('iris', addToSplit('1'));
      const before = await read();
      const err = await source.writeConfig('iris', addToSplit('9', 0)).catch((e: unknown) => e);
      expect(conflict(err)).toBe('revision-conflict');
      expect((err as ConfigConflictError).message).toMatch(/revision 1, not 0/);
      expect(await read()).toBe(before);
    });

    it('an invalid config.json is refused, named, and left as it is', async () => {
      const { source, read, writeRaw } = await make();
      await writeRaw('{"version_policy": {"latest": {"num_versions": 0}}}');
      const err = await source.writeConfig('iris', addToSplit('1')).catch((e: unknown) => e);
      expect(conflict(err)).toBe('config-invalid');
      expect((err as Error).message).toMatch(/config.json is invalid.*fix the file/);
      expect(await read()).toBe('{"version_policy": {"latest": {"num_versions": 0}}}');
    });

    if (concurrent) {
      it('30 concurrent writers: every change lands, one revision each; of those naming one revision, one wins', async () => {
        const { source, read } = await make();
        const revisions = await Promise.all(Array.from({ length: 30 }, (_, i) => source.writeConfig('iris', addToSplit(String(i + 1)))));
        expect(revisions.sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
        expect(Object.keys((parseModelConfig((await read())!).traffic as { split: object }).split)).toHaveLength(30);

        const outcomes = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => source.writeConfig('iris', addToSplit(String(100 + i), 30))));
        expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
        expect(outcomes.filter((o) => o.status === 'rejected').map((o) => conflict((o as PromiseRejectedResult).reason))).toEqual(Array(5).fill('revision-conflict'));
      });
    }
  });
}

describe('config.json as the record of run-time state', () => {
  const folders: string[] = [];
  afterAll(() => folders.forEach((f) => rmSync(f, { recursive: true, force: true })));

  recordsChanges(
    'in a local folder (lock file, then rename)',
    async () => {
      const root = mkdtempSync(join(tmpdir(), 'config-record-'));
      folders.push(root);
      const file = join(root, 'iris', 'config.json');
      mkdirSync(join(root, 'iris'));
      return {
        source: new LocalSource(root),
        read: async () => readFileSync(file, 'utf8'),
        writeRaw: async (text) => writeFileSync(file, text),
      };
    },
    true,
  );

  it('leaves no lock or staging file behind, and takes over a lock left by a writer that died', async () => {
    const root = mkdtempSync(join(tmpdir(), 'config-record-'));
    folders.push(root);
    mkdirSync(join(root, 'iris'));
    const lock = join(root, 'iris', '.config.lock');
    writeFileSync(lock, 'a writer that died');
    const old = (Date.now() - 60_000) / 1000;
    utimesSync(lock, old, old);
    const source = new LocalSource(root);
    expect(await source.writeConfig('iris', addToSplit('1'))).toBe(1);
    expect(readdirSync(join(root, 'iris'))).toEqual(['config.json']);
  });

  describe('in an S3-compatible store (conditional put)', () => {
    let store: S3Store;
    let client: S3Client;
    let bucket = 0;
    beforeAll(async () => {
      store = await S3Store.start();
      client = store.client();
      process.env.AWS_ACCESS_KEY_ID = S3_CREDENTIALS.accessKeyId;
      process.env.AWS_SECRET_ACCESS_KEY = S3_CREDENTIALS.secretAccessKey;
    });
    afterAll(async () => {
      client?.destroy();
      await store?.dispose();
    });

    // s3rver ignores If-Match on PUT (AWS S3 and MinIO honour it): concurrent writers are the fleet's Redis lock's to serialize, tested in tests/fleet.
    recordsChanges(
      'each write conditional on the ETag it read',
      async () => {
        const name = `records-${++bucket}`;
        await client.send(new CreateBucketCommand({ Bucket: name }));
        const key = 'repo/iris/config.json';
        return {
          source: new S3Source(`s3://${name}/repo`, { endpoint: store.url, forcePathStyle: true, cacheDir: join(store.dir, 'cache'), maxBytes: 1e6 }),
          read: async () => (await client.send(new GetObjectCommand({ Bucket: name, Key: key }))).Body?.transformToString('utf8'),
          writeRaw: async (text) => void (await client.send(new PutObjectCommand({ Bucket: name, Key: key, Body: text }))),
        };
      },
      false,
    );
  });
});

describe('the admin API over the record', () => {
  let repo: TempRepository;
  let app: FastifyInstance;
  const inject = (method: 'GET' | 'PUT' | 'POST', url: string, body?: unknown, headers: Record<string, string> = {}) =>
    app.inject({ method, url, headers: { 'x-api-key': ADMIN, ...headers }, ...(body !== undefined && { payload: body as Record<string, unknown> }) });

  afterEach(async () => {
    await app?.close();
    repo?.dispose();
  });

  const start = async (config?: Record<string, unknown>): Promise<void> => {
    repo = new TempRepository();
    cpSync(join(SHIPPED_REPOSITORY, 'iris', '1'), join(repo.root, 'iris', '1'), { recursive: true });
    cpSync(join(SHIPPED_REPOSITORY, 'iris', '1'), join(repo.root, 'iris', '2'), { recursive: true });
    repo.config('iris', { version_policy: { all: {} }, ...config });
    app = await buildApp({ MODEL_REPOSITORY: repo.root, DEFAULT_MODEL: 'iris', ADMIN_API_KEYS: ADMIN, MODEL_POLL_INTERVAL_S: '0', CACHE_MAX_ENTRIES: '0' });
  };
  const file = (): Record<string, unknown> => JSON.parse(readFileSync(join(repo.root, 'iris', 'config.json'), 'utf8')) as Record<string, unknown>;

  it('a PUT is written to config.json with the next revision; the ETag is the revision and If-Match guards it', async () => {
    await start();
    const first = await inject('GET', '/v1/models/iris/traffic');
    expect(first.headers.etag).toBe('"0"');
    expect(first.json()).toMatchObject({ revision: 0, statistics: 'replica', source: null });
    expect(first.json().replicas).toEqual([expect.objectContaining({ replica: first.json().replica, revision: 0 })]);

    const put = await inject('PUT', '/v1/models/iris/traffic', { split: { '1': 90, '2': 10 } }, { 'if-match': '"0"' });
    expect(put.statusCode).toBe(200);
    expect(put.headers.etag).toBe('"1"');
    expect(put.json()).toMatchObject({ revision: 1, source: 'api', policy: { split: { '1': 90, '2': 10 }, sticky: false } });
    expect(file()).toEqual({ version_policy: { all: {} }, traffic: { split: { '1': 90, '2': 10 }, sticky: false }, revision: 1 });

    const stale = await inject('PUT', '/v1/models/iris/traffic', { split: { '2': 100 } }, { 'if-match': '"0"' });
    expect(stale.statusCode).toBe(409);
    expect(stale.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(stale.json()).toMatchObject({ type: 'urn:ml-inference-api:problem:revision-conflict', status: 409, detail: expect.stringMatching(/revision 1, not 0/) });
    expect((await inject('GET', '/v1/models/iris/traffic')).json().policy).toEqual({ split: { '1': 90, '2': 10 }, sticky: false });

    const bad = await inject('PUT', '/v1/models/iris/traffic', { split: { '2': 100 } }, { 'if-match': 'yesterday' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().detail).toMatch(/If-Match must be a revision/);
    expect((await inject('PUT', '/v1/models/iris/traffic', { split: { '2': 100 } }, { 'if-match': '*' })).json().revision).toBe(2);
  });

  it('concurrent PUTs without If-Match: each answer and ETag carries the revision its own write produced', async () => {
    await start();
    const puts = await Promise.all(Array.from({ length: 6 }, (_, i) => inject('PUT', '/v1/models/iris/traffic', { split: { '1': 50 + i, '2': 50 - i } })));
    expect(puts.map((p) => p.statusCode)).toEqual(Array(6).fill(200));
    const revisions = puts.map((p) => p.json<{ revision: number }>().revision);
    expect([...revisions].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(puts.map((p) => p.headers.etag)).toEqual(revisions.map((r) => `"${r}"`));
    // The ETag of the last write is the file's revision; any other's is stale.
    expect(file().revision).toBe(6);
  });

  it('unload and load are recorded (unloaded: true, then removed); a config.json that says unloaded is read at start', async () => {
    await start();
    expect((await inject('POST', '/v1/models/iris/unload')).statusCode).toBe(200);
    expect(file()).toMatchObject({ unloaded: true, revision: 1 });
    expect((await inject('POST', '/v1/models/iris/unload')).statusCode).toBe(200);
    expect(file().revision).toBe(1);
    expect((await inject('POST', '/v1/models/iris/load')).json().default_version).toBe('2');
    expect(file()).toEqual({ version_policy: { all: {} }, revision: 2 });
    await app.close();
    repo.dispose();

    await start({ unloaded: true, revision: 7 });
    const refused = await app.inject({ method: 'POST', url: '/v1/models/iris/predict', payload: { features: [5.1, 3.5, 1.4, 0.2] } });
    expect(refused.statusCode).toBe(503);
    expect(refused.json().detail).toBe("model 'iris' is unloaded");
    expect((await inject('GET', '/v1/models/iris/traffic')).json().revision).toBe(7);
  });

  it('a config.json that cannot be read as valid refuses changes through the API with 409 config-invalid, naming the problem', async () => {
    await start();
    writeFileSync(join(repo.root, 'iris', 'config.json'), '{"version_policy": "all"}');
    const res = await inject('PUT', '/v1/models/iris/traffic', { split: { '1': 100 } });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ type: 'urn:ml-inference-api:problem:config-invalid', detail: expect.stringMatching(/config.json is invalid.*fix the file/) });
    expect(readFileSync(join(repo.root, 'iris', 'config.json'), 'utf8')).toBe('{"version_policy": "all"}');
  });
});
