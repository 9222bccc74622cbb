/**
 * The replicas of one deployment, through the Redis they already share (REDIS_URL). The
 * record of run-time state is the repository (each model's config.json); Redis only makes it
 * spread faster and shows who serves what:
 * - a replica that records a change announces it on a channel, and every other replica
 *   re-reads that model's config.json at once instead of at its next poll;
 * - a lock around each config.json write, for stores that ignore conditional writes;
 * - every replica reports, every FLEET_REPORT_INTERVAL_S, the config revision it serves per
 *   model and its traffic counts, so any replica can answer for the whole fleet.
 * Redis is never a dependency: while it is down the replicas keep what they serve, changes
 * still land in the repository and spread by polling, and on reconnecting each replica
 * re-reads the whole repository. Fastify-free.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { failFastRedisOptions } from '../cache/redis-cache.js';

/** What one replica serves of one model, as it last reported it. */
export interface ReplicaReport<S> {
  replica: string;
  revision: number;
  digest: string;
  /** Milliseconds since the epoch. */
  at: number;
  stats: S;
}

export interface FleetOptions {
  url: string;
  keyPrefix: string;
  timeoutMs: number;
  replica: string;
  reportIntervalS: number;
}

export interface FleetEvents<S> {
  /** Another replica recorded a change of `model`. */
  onChanged(model: string, revision: number, replica: string): void;
  /** The connection came back after being lost: notices may have been missed. */
  onReconnected(): void;
  /** What this replica serves now, per model, for its report. */
  reportOf(): { model: string; revision: number; digest: string; stats: S }[];
  onConnected?(connected: boolean): void;
  onError?(operation: string, err: unknown): void;
}

/** How long a config lock is held at most (a replica that dies holding it frees it then), and waited for. */
const LOCK_TTL_MS = 10_000;
const LOCK_WAIT_MS = 5_000;
/** A report older than this many intervals is from a replica that has gone. */
const REPORT_LIFETIMES = 3;

const RELEASE_SCRIPT = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

export class Fleet<S> {
  private readonly redis: Redis;
  private readonly subscriber: Redis;
  private readonly channel: string;
  private timer: NodeJS.Timeout | undefined;
  private everConnected = false;
  private lostSinceReady = false;
  private closed = false;
  /** Reports begin with start(), once the repository has had its first look. */
  private running = false;

  constructor(
    private readonly opts: FleetOptions,
    private readonly events: FleetEvents<S>,
  ) {
    const options = failFastRedisOptions(opts.timeoutMs);
    this.channel = `${opts.keyPrefix}fleet:changes`;
    this.redis = new Redis(opts.url, options);
    this.redis.on('error', () => {});
    this.redis.on('ready', () => void this.report());
    // A subscriber connection may wait for its command: it subscribes on every (re)connect.
    this.subscriber = new Redis(opts.url, { ...options, commandTimeout: undefined, autoResubscribe: false });
    this.subscriber.on('error', () => {});
    this.subscriber.on('ready', () => {
      this.subscriber.subscribe(this.channel).then(
        () => {
          this.events.onConnected?.(true);
          // Connected after a loss (or after starting while Redis was down): notices may have been missed.
          if (this.lostSinceReady) this.events.onReconnected();
          this.everConnected = true;
          this.lostSinceReady = false;
        },
        (err: unknown) => this.events.onError?.('subscribe', err),
      );
    });
    this.subscriber.on('close', () => {
      if (this.everConnected && !this.lostSinceReady && !this.closed) this.events.onConnected?.(false);
      this.lostSinceReady = true;
    });
    this.subscriber.on('message', (_channel: string, message: string) => {
      const notice = parseNotice(message);
      if (notice && notice.replica !== opts.replica) this.events.onChanged(notice.model, notice.revision, notice.replica);
    });
  }

  get replica(): string {
    return this.opts.replica;
  }

  /** Report now and every reportIntervalS (and whenever the connection comes back). */
  start(): void {
    this.running = true;
    void this.report();
    const tick = (): void => {
      this.timer = setTimeout(() => void this.report().finally(tick), this.opts.reportIntervalS * 1000);
      this.timer.unref();
    };
    tick();
  }

  /** Take a model's config lock (waiting while another replica holds it); undefined when Redis cannot give it now. */
  async lock(model: string): Promise<(() => Promise<void>) | undefined> {
    const key = `${this.opts.keyPrefix}fleet:lock:${model}`;
    const token = randomUUID();
    const deadline = Date.now() + LOCK_WAIT_MS;
    try {
      while ((await this.redis.set(key, token, 'PX', LOCK_TTL_MS, 'NX')) !== 'OK') {
        if (Date.now() > deadline) return undefined;
        await sleep(5 + Math.random() * 20);
      }
    } catch (err) {
      this.events.onError?.('lock', err);
      return undefined;
    }
    return async () => {
      await this.redis.eval(RELEASE_SCRIPT, 1, key, token).catch((err: unknown) => this.events.onError?.('unlock', err));
    };
  }

  /** Tell the other replicas that `model`'s config.json changed (they re-read it). */
  async announce(model: string, revision: number): Promise<void> {
    try {
      await this.redis.publish(this.channel, JSON.stringify({ model, revision, replica: this.opts.replica }));
    } catch (err) {
      this.events.onError?.('announce', err);
    }
    await this.report();
  }

  /** Write this replica's report of every model. */
  async report(): Promise<void> {
    if (!this.running || this.closed || this.redis.status !== 'ready') return;
    const at = Date.now();
    const ttl = Math.ceil(this.opts.reportIntervalS * REPORT_LIFETIMES * 1000);
    try {
      const batch = this.redis.multi();
      for (const r of this.events.reportOf()) {
        const key = this.reportKey(r.model);
        batch.hset(key, this.opts.replica, JSON.stringify({ replica: this.opts.replica, revision: r.revision, digest: r.digest, at, stats: r.stats }));
        batch.pexpire(key, ttl);
      }
      await batch.exec();
    } catch (err) {
      this.events.onError?.('report', err);
    }
  }

  /** Every live replica's last report of `model` (this one's included once it has reported); undefined while Redis cannot answer. */
  async reports(model: string): Promise<ReplicaReport<S>[] | undefined> {
    let all: Record<string, string>;
    try {
      all = await this.redis.hgetall(this.reportKey(model));
    } catch (err) {
      this.events.onError?.('reports', err);
      return undefined;
    }
    const oldest = Date.now() - this.opts.reportIntervalS * REPORT_LIFETIMES * 1000;
    const live: ReplicaReport<S>[] = [];
    const gone: string[] = [];
    for (const [replica, text] of Object.entries(all)) {
      const report = parseReport<S>(text);
      if (report && report.at >= oldest) live.push(report);
      else gone.push(replica);
    }
    if (gone.length > 0) await this.redis.hdel(this.reportKey(model), ...gone).catch(() => undefined);
    return live.sort((a, b) => a.replica.localeCompare(b.replica));
  }

  /** Stop reporting, take this replica's reports out, and disconnect. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.redis.status === 'ready') {
      const batch = this.redis.multi();
      for (const r of this.events.reportOf()) batch.hdel(this.reportKey(r.model), this.opts.replica);
      await batch.exec().catch(() => undefined);
    }
    this.redis.disconnect(false);
    this.subscriber.disconnect(false);
  }

  private reportKey(model: string): string {
    return `${this.opts.keyPrefix}fleet:replicas:${model}`;
  }
}

function parseNotice(message: string): { model: string; revision: number; replica: string } | undefined {
  try {
    const n = JSON.parse(message) as { model?: unknown; revision?: unknown; replica?: unknown };
    return typeof n.model === 'string' && typeof n.revision === 'number' && typeof n.replica === 'string' ? { model: n.model, revision: n.revision, replica: n.replica } : undefined;
  } catch {
    return undefined;
  }
}

function parseReport<S>(text: string): ReplicaReport<S> | undefined {
  try {
    const r = JSON.parse(text) as Partial<ReplicaReport<S>>;
    return typeof r.replica === 'string' && typeof r.revision === 'number' && typeof r.digest === 'string' && typeof r.at === 'number' && r.stats !== undefined ? (r as ReplicaReport<S>) : undefined;
  } catch {
    return undefined;
  }
}
