import fp from 'fastify-plugin';
import { resolve } from 'node:path';
import type { Config } from '../../config.js';
import type { ServedVersion } from '../../inference/served-version.js';
import { InstancePool } from '../../inference/pool.js';
import { onnxThreads, poolOptions } from '../../inference/pool-config.js';
import type { KindRegistry } from '../../kinds/index.js';
import type { InputLimits } from '../../kinds/kind.js';
import { LocalSource } from '../../repository/local-source.js';
import { ModelRepository } from '../../repository/repository.js';
import { isS3Url, type RepositorySource } from '../../repository/source.js';
import { loadVersion } from '../../serving/load-version.js';
import type { Fleet } from '../../serving/fleet.js';
import { replicaName, TrafficRouter, type TrafficSnapshot } from '../../serving/traffic-router.js';

/** The model repository and the inference threads it runs on. */
export interface Models {
  readonly repository: ModelRepository<ServedVersion>;
  /** The model that /predict and /predict/batch serve. */
  readonly defaultModel: string;
  /** The shared inference threads, once started. */
  readonly pool: InstancePool | null;
  /** Active TF.js backend, null until it is initialised. */
  readonly backend: string | null;
  /** Resolves once the first load attempt of every model at start has finished. */
  settled(): Promise<void>;
  /** Traffic policies: which version unversioned requests go to, and shadow copies. */
  readonly traffic: TrafficRouter;
  /** The other replicas, through Redis (REDIS_URL); null without. */
  readonly fleet: Fleet<TrafficSnapshot> | null;
  /** False while no inference host is running (every one died and is being restarted): not ready. */
  hostsRunning(): boolean;
  /** A prediction call of another protocol (gRPC) has started: shadow copies wait until the returned function is called. */
  predictionStarted(): () => void;
}

declare module 'fastify' {
  interface FastifyInstance {
    models: Models;
    /** The model kinds this app serves. */
    kinds: KindRegistry;
  }
}

/** The repository's source; the S3 client (about 0.2 s to load) only for an S3 repository. */
async function repositorySource(config: Config): Promise<RepositorySource> {
  if (isS3Url(config.MODEL_REPOSITORY)) {
    const { S3Source } = await import('../../repository/s3-source.js');
    return new S3Source(config.MODEL_REPOSITORY, {
      endpoint: config.S3_ENDPOINT,
      forcePathStyle: config.S3_FORCE_PATH_STYLE,
      cacheDir: resolve(config.MODEL_CACHE_DIR),
      maxBytes: config.MODEL_MAX_BYTES,
    });
  }
  return new LocalSource(resolve(config.MODEL_REPOSITORY));
}

/**
 * Models load after the server starts listening, so /health answers and /ready says
 * "loading" meanwhile; the repository is polled for changes while the server runs, and
 * every version and thread is released when it closes.
 */
/** The request limits kinds read inputs under. */
export function inputLimits(config: Config): InputLimits {
  return {
    maxUploadBytes: config.MAX_UPLOAD_BYTES,
    maxBatchUploadBytes: config.MAX_BATCH_UPLOAD_BYTES,
    maxBatchInputs: config.MAX_BATCH_FILES,
    maxInputPixels: config.MAX_INPUT_PIXELS,
    maxTextBytes: config.MAX_TEXT_BYTES,
  };
}

export interface ModelsOptions {
  config: Config;
  kinds: KindRegistry;
  /** The inference pool, when the process started it already (while its code loaded); else it starts when the app is ready. */
  pool?: Promise<InstancePool>;
}

export default fp<ModelsOptions>(
  async (app, { config, kinds, pool: early }) => {
    app.decorate('kinds', kinds);
    let pool: InstancePool | null = null;
    let startPool: Promise<InstancePool> | undefined;
    const poolReady = (): Promise<InstancePool> =>
      (startPool ??= (early ?? InstancePool.start(poolOptions(config))).then((p) => {
        p.listen({
          onHostDeath: (host, reason) => app.log.error({ thread: host, reason }, 'inference host died; replacing it'),
          onQuarantine: (key, reason) => {
            const hit = repository.available().find((a) => a.value.key === key);
            if (!hit) return;
            repository.quarantine(hit.name, hit.version, hit.value, reason);
            app.metrics.recordLoadFailure(hit.name, hit.version);
            app.log.error({ model: hit.name, version: hit.version, reason }, 'model version quarantined');
          },
          onHostRestart: (host, reason) => {
            app.metrics.recordInstanceRestart(reason);
            app.log.warn({ thread: host }, 'inference host replaced');
          },
        });
        return (pool = p);
      }));
    let nativeMissingTold = false;
    const replica = replicaName();
    // The fleet's Redis client is loaded only where REDIS_URL is set.
    const fleet: Fleet<TrafficSnapshot> | null = config.REDIS_URL
      ? new (await import('../../serving/fleet.js')).Fleet<TrafficSnapshot>(
          { url: config.REDIS_URL, keyPrefix: config.REDIS_KEY_PREFIX, timeoutMs: Math.max(config.REDIS_TIMEOUT_MS, 1000), replica, reportIntervalS: config.FLEET_REPORT_INTERVAL_S },
          {
            onChanged: (model, revision, from) => {
              app.log.info({ model, revision, from }, 'another replica changed the model config; reading it');
              // Taken in, then reported at once, so GET …/traffic shows every replica on the new revision.
              repository.refresh(model).then(
                () => fleet?.report(),
                (err: unknown) => app.log.warn({ err, model }, 'model config could not be re-read; the next poll retries'),
              );
            },
            onReconnected: () => {
              app.log.info('fleet notices reconnected; re-reading the repository for changes missed meanwhile');
              void repository.rescan().then(() => fleet?.report());
            },
            reportOf: (): { model: string; revision: number; digest: string; stats: TrafficSnapshot }[] =>
              repository.list().map((m) => ({ model: m.name, ...repository.configRevision(m.name), stats: traffic.snapshot(m.name) })),
            onConnected: (connected) =>
              connected ? app.log.info('fleet notices connected') : app.log.warn('fleet notices disconnected: changes spread by polling the repository until Redis is back'),
            onError: (operation, err) => app.log.debug({ operation, err }, 'fleet Redis command failed'),
          },
        )
      : null;

    const repository: ModelRepository<ServedVersion> = new ModelRepository<ServedVersion>(
      await repositorySource(config),
      async (request) =>
        loadVersion(request, await poolReady(), {
          kinds,
          limits: inputLimits(config),
          maxBytes: config.MODEL_MAX_BYTES,
          autotrain: config.MODEL_AUTOTRAIN,
          cacheDir: resolve(config.MODEL_CACHE_DIR),
          batching: { maxBatchSize: config.MAX_BATCH_SIZE, maxDelayMs: config.MAX_BATCH_DELAY_MS, maxQueue: config.MAX_QUEUE },
          runtime: { choice: config.INFERENCE_RUNTIME, onnxThreads: onnxThreads(config), faultInjection: config.INFERENCE_FAULT_INJECTION },
          onBatch: (ref, e) => app.metrics.recordBatch(ref, e.size, e.queueSeconds, e.computeSeconds),
        }),
      { pollIntervalS: config.MODEL_POLL_INTERVAL_S, ...(fleet && { configLock: (name: string) => fleet.lock(name) }) },
      {
        onLoaded: (name, version, served) => {
          // npm drops the optional native package silently: say so once, and why, when TF.js is first used.
          const why = served.runtime === 'tfjs' ? pool?.nativeMissing : null;
          if (why && !nativeMissingTold) app.log.warn({ backend: served.backend }, `TF.js runs on ${served.backend}, not native TensorFlow: ${why}`);
          nativeMissingTold ||= Boolean(why);
          app.metrics.recordModelLoaded({ name, version, runtime: served.runtime, backend: served.backend, loadSeconds: served.loadSeconds, labels: served.labels });
          app.log.info({ model: name, version, load_s: Math.round(served.loadSeconds * 1000) / 1000, runtime: served.runtime, backend: served.backend }, 'model version available');
        },
        onLoadFailed: (name, version, reason) => {
          app.metrics.recordLoadFailure(name, version);
          app.log.warn({ model: name, version, reason }, 'model version failed to load');
        },
        onUnloaded: (name, version) => app.log.info({ model: name, version }, 'model version unloaded'),
        onSourceError: (err, retryInS) => {
          app.metrics.recordRepositoryError();
          app.log.error({ err, repository: config.MODEL_REPOSITORY, retry_in_s: retryInS }, 'model repository unreadable; serving what is loaded');
        },
        onRefused: (entries) => app.log.warn({ entries }, 'repository entries ignored'),
        onConfigProblem: (name, problem) => app.log.warn({ model: name, problem }, 'model config.json ignored'),
        onConfigWritten: (name, revision) => {
          app.log.info({ model: name, revision }, 'model config recorded');
          void fleet?.announce(name, revision);
        },
      },
    );

    let started: Promise<void> = Promise.resolve();
    // Prediction requests being handled (shadow copies wait for none).
    let inFlightPredictions = 0;
    const predictionStarted = (): (() => void) => {
      inFlightPredictions++;
      let ended = false;
      return () => {
        if (!ended) inFlightPredictions--;
        ended = true;
      };
    };
    app.addHook('onRequest', (request, reply, done) => {
      // 'close' comes for every response, also when the client went away mid-request.
      if (request.method === 'POST') reply.raw.once('close', predictionStarted());
      done();
    });
    const traffic = new TrafficRouter(repository, app.metrics, {
      shadowQueue: config.SHADOW_QUEUE,
      // Other requests in hand, or batches queued or running: no capacity to spare for a shadow.
      busy: () => inFlightPredictions > 0 || repository.available().some((a) => a.value.stats().queued > 0 || a.value.stats().inFlightBatches > 0),
      onWarning: (model, problem) => app.log.warn({ model, problem }, 'traffic policy not followed as written'),
      replica,
    });
    app.decorate('models', {
      repository,
      defaultModel: config.DEFAULT_MODEL,
      get pool() {
        return pool;
      },
      get backend() {
        return pool?.backend ?? null;
      },
      settled: () => started,
      hostsRunning: () => pool === null || pool.size > 0,
      predictionStarted,
      traffic,
      fleet,
    } satisfies Models);

    // Loading starts now, while the other plugins register and the server starts listening:
    // the hosts load in their own threads or processes meanwhile.
    started = poolReady().then(
      async () => {
        repository.start();
        await repository.settled();
        fleet?.start();
        app.log.info({ repository: config.MODEL_REPOSITORY, models: repository.list(), backend: pool?.backend }, 'model repository loaded');
      },
      (err: unknown) => app.log.error({ err }, 'inference hosts could not start'),
    );
    app.addHook('onClose', async () => {
      await started;
      await fleet?.close();
      await repository.close();
      await pool?.close();
    });
  },
  { name: 'models', dependencies: ['lifecycle', 'metrics'] },
);
