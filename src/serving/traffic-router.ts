/**
 * The traffic router, Fastify-free: for each model, the policy in force (from its
 * config.json, hot-reloaded, or from the admin API), the version each unversioned request
 * goes to, the shadow copies (a small queue of their own, dropped first), and the comparison
 * of versions: per version requests, errors, latency, class distribution and confidence; per
 * shadow pair the top-1 agreement and the mean absolute probability difference.
 */
import { hostname } from 'node:os';
import type { ServiceMetrics } from '../metrics/service-metrics.js';
import type { ModelRepository } from '../repository/repository.js';
import type { Lease } from '../repository/types.js';
import { parseTrafficPolicy, pickVersion, roleOf, unavailableVersions, type TrafficPolicy } from '../repository/traffic-policy.js';
import { argMax } from '../inference/postprocess.js';
import type { ServedVersion } from '../inference/served-version.js';
import type { Summary } from '../kinds/kind.js';
import { invalidInput } from './errors.js';

export type Role = 'primary' | 'canary' | 'shadow';

/** This process's name among the replicas in summaries: the host (a pod's name under Kubernetes) and the process id. */
export function replicaName(): string {
  return `${hostname()}/${process.pid}`;
}

export interface VersionStats {
  role: Role;
  requests: number;
  errors: number;
  latencySum: number;
  confidenceSum: number;
  answered: number;
  classes: Record<string, number>;
}

export interface ShadowStats {
  compared: number;
  agreed: number;
  absDiffSum: number;
  dropped: number;
  failed: number;
}

interface ModelTraffic {
  policy?: TrafficPolicy;
  source?: 'file' | 'api';
  /** Why the last policy offered was refused (the previous one stays in force). */
  problem?: string;
  /** The file's `traffic` section as last seen (the object, and its contents), and one not yet in force (waiting for its versions). */
  fileRaw?: unknown;
  fileSeen?: string;
  filePending?: unknown;
  versions: Map<string, VersionStats>;
  shadow: Map<string, ShadowStats>;
  /** Smooth weighted round-robin counters of non-sticky assignment. */
  counters: Map<string, number>;
}

/** One replica's traffic counts of a model, as it reports them to the others (sums, so they add up). */
export interface TrafficSnapshot {
  versions: Record<string, VersionStats>;
  shadow: Record<string, ShadowStats>;
}

/** Which revision of a model's config.json a replica serves. */
export interface ReplicaState {
  replica: string;
  revision: number;
  digest: string;
  /** When it said so (ISO 8601); this replica's is now. */
  reported_at: string;
}

export interface TrafficSummary {
  model: string;
  policy: TrafficPolicy | null;
  source: 'file' | 'api' | null;
  /** The revision of config.json (policy, load state) this replica serves. */
  revision: number;
  replica: string;
  /** Whose requests `versions` and `shadow` count: this replica's, or every replica's (reported through Redis). */
  statistics: 'replica' | 'fleet';
  replicas: ReplicaState[];
  problem: string | null;
  config_problem: string | null;
  versions: { version: string; role: Role; requests: number; errors: number; mean_latency_ms: number | null; mean_confidence: number | null; classes: Record<string, number> }[];
  shadow: { version: string; compared: number; agreement_rate: number | null; mean_abs_diff: number | null; dropped: number; failed: number } | null;
}

export interface TrafficOptions {
  /** Shadow requests running at once; more are dropped (counted). */
  shadowQueue: number;
  /** Whether the server has other work in hand (requests or batches): shadows are dropped first. */
  busy?: () => boolean;
  random?: () => number;
  /** A policy that cannot be followed as written (its shadow version gone): said once per change, for the log. */
  onWarning?: (model: string, message: string) => void;
  /** This replica's name in summaries. */
  replica?: string;
}

export class TrafficRouter {
  private readonly models = new Map<string, ModelTraffic>();
  private shadowsRunning = 0;
  private readonly random: () => number;

  constructor(
    private readonly repo: ModelRepository<ServedVersion>,
    private readonly metrics: ServiceMetrics,
    private readonly opts: TrafficOptions,
  ) {
    this.random = opts.random ?? Math.random;
  }

  /** A model's traffic state, with its config.json section taken in when the file changed (throws for an unknown model). */
  private state(name: string): ModelTraffic {
    const { raw } = this.repo.trafficConfig(name);
    let st = this.models.get(name);
    if (!st) {
      st = { versions: new Map(), shadow: new Map(), counters: new Map() };
      this.models.set(name, st);
    }
    // Each scan of the file gives a new object: compare contents only when the object changed.
    if (raw !== st.fileRaw) {
      st.fileRaw = raw;
      const seen = JSON.stringify(raw ?? null);
      if (seen !== st.fileSeen) {
        st.fileSeen = seen;
        st.filePending = raw === undefined ? null : raw;
      }
    }
    if (st.filePending !== undefined) this.adoptFile(name, st);
    return st;
  }

  /** Take the file's policy if it is valid and its versions are available; else keep the one in force. */
  private adoptFile(name: string, st: ModelTraffic): void {
    if (st.filePending === null) {
      // The section was removed: a policy that came from the file goes with it.
      if (st.source === 'file') [st.policy, st.source] = [undefined, undefined];
      st.filePending = undefined;
      st.problem = undefined;
      return;
    }
    let policy: TrafficPolicy;
    try {
      policy = parseTrafficPolicy(st.filePending);
    } catch (err) {
      st.problem = `config.json: ${(err as Error).message}; the previous policy stays in force`;
      st.filePending = undefined;
      return;
    }
    const missing = unavailableVersions(policy, this.repo.availableVersions(name));
    if (missing) {
      // Retried on the next request: the versions may still be loading.
      st.problem = `config.json: ${missing}; the previous policy stays in force until they are`;
      return;
    }
    // A revision means the server wrote the file (PUT): 'api'; none, an operator's own file.
    const source = this.repo.configRevision(name).revision > 0 ? 'api' : 'file';
    [st.policy, st.source, st.problem, st.filePending] = [policy, source, undefined, undefined];
    st.counters.clear();
  }

  /** The version an unversioned request to `name` goes to (undefined: the default version), and its role. */
  choose(name: string, clientKey: string | undefined): { version: string | undefined; role: 'primary' | 'canary' } {
    const st = this.state(name);
    if (!st.policy) return { version: undefined, role: 'primary' };
    const version = pickVersion(st.policy, this.repo.availableVersions(name), clientKey, st.counters);
    return { version, role: version === undefined ? 'primary' : roleOf(st.policy, version) };
  }

  /**
   * Hold the version a request names; one naming none goes where the policy sends it (else
   * to the default version). `role` is set for unversioned requests only.
   */
  acquire(name: string, version: string | undefined, clientKey: string | undefined): { lease: Lease<ServedVersion>; role?: 'primary' | 'canary' } {
    if (version !== undefined) return { lease: this.repo.acquire(name, version) };
    const routed = this.choose(name, clientKey);
    if (routed.version === undefined) return { lease: this.repo.acquire(name), role: 'primary' };
    try {
      const lease = this.repo.acquire(name, routed.version);
      return { lease, role: routed.role };
    } catch {
      // The routed version went away between the choice and the lease: the default answers.
      return { lease: this.repo.acquire(name), role: 'primary' };
    }
  }

  /**
   * Set a policy through the admin API: refused as invalid input (the previous stays) unless
   * valid now; else recorded in the model's config.json (a conflict when `expectedRevision` is
   * not the file's), so every replica takes it, and in force here at once. Returns the
   * revision this write produced (another writer's may already follow it).
   */
  async put(name: string, raw: unknown, expectedRevision?: number): Promise<number> {
    this.state(name);
    let policy: TrafficPolicy;
    try {
      policy = parseTrafficPolicy(raw);
    } catch (err) {
      throw invalidInput('invalid-traffic-policy', (err as Error).message);
    }
    const missing = unavailableVersions(policy, this.repo.availableVersions(name));
    if (missing) throw invalidInput('invalid-traffic-policy', `${missing} (model '${name}' serves ${[...this.repo.availableVersions(name)].join(', ') || 'none'})`);
    return this.repo.setTraffic(name, policy, expectedRevision);
  }

  /** This replica's counts of a model, for the fleet's reports. */
  snapshot(name: string): TrafficSnapshot {
    const st = this.models.get(name);
    return { versions: Object.fromEntries(st?.versions ?? []), shadow: Object.fromEntries(st?.shadow ?? []) };
  }

  private versionStats(st: ModelTraffic, version: string, role: Role): VersionStats {
    let v = st.versions.get(version);
    if (!v) st.versions.set(version, (v = { role, requests: 0, errors: 0, latencySum: 0, confidenceSum: 0, answered: 0, classes: {} }));
    v.role = role;
    return v;
  }

  /** One answered (or failed) input of an unversioned request. */
  record(name: string, version: string, role: Role, seconds: number, answer: Summary | undefined): void {
    const v = this.versionStats(this.state(name), version, role);
    v.requests++;
    if (!answer) v.errors++;
    v.latencySum += seconds;
    if (answer && 'label' in answer) {
      v.answered++;
      v.confidenceSum += answer.confidence;
      v.classes[answer.label] = (v.classes[answer.label] ?? 0) + 1;
    }
    this.metrics.recordTraffic({ name, version }, role, seconds, answer === undefined, answer && 'label' in answer ? answer : undefined);
  }

  /**
   * After the primary answer was sent: with the policy's probability, run the same inputs on
   * the shadow version (`run` gives its outputs), and compare each. At most `shadowQueue` run
   * at once; the rest are dropped. Never throws.
   */
  mirror(name: string, primary: { version: string; outputs: readonly Float32Array[] }, run: (shadow: ServedVersion) => Promise<Float32Array[]>): void {
    const st = this.models.get(name);
    const shadow = st?.policy?.shadow;
    if (!st || !shadow || shadow.version === primary.version || this.random() >= shadow.fraction) return;
    const stats = st.shadow.get(shadow.version) ?? { compared: 0, agreed: 0, absDiffSum: 0, dropped: 0, failed: 0 };
    st.shadow.set(shadow.version, stats);
    const drop = (): void => {
      stats.dropped++;
      this.metrics.recordShadowDropped({ name, version: shadow.version });
    };
    // Shadows use spare capacity only: dropped while their queue is full or the server is busy.
    if (this.shadowsRunning >= this.opts.shadowQueue || this.opts.busy?.()) return drop();
    let lease;
    try {
      lease = this.repo.acquire(name, shadow.version);
    } catch (err) {
      // Removed, unloaded or failed: say so (in the summary and the log), not only count drops.
      const problem = `shadow version ${shadow.version} is not available (${err instanceof Error ? err.message : String(err)}); its copies are dropped until it is`;
      if (st.problem !== problem) {
        st.problem = problem;
        this.opts.onWarning?.(name, problem);
      }
      return drop();
    }
    if (st.problem?.startsWith(`shadow version ${shadow.version} `)) st.problem = undefined;
    // A shadow version with work already queued is busy: the copy is dropped, never queued.
    if (lease.value.stats().queued > 0) {
      lease.release();
      return drop();
    }
    this.shadowsRunning++;
    const started = performance.now();
    const held = lease;
    void run(held.value)
      .then((outputs) => {
        const seconds = (performance.now() - started) / 1000;
        outputs.forEach((output, i) => {
          const first = primary.outputs[i]!;
          const agree = argMax(output) === argMax(first);
          let diff = 0;
          for (let j = 0; j < output.length; j++) diff += Math.abs(output[j]! - (first[j] ?? 0));
          diff /= Math.max(1, output.length);
          stats.compared++;
          if (agree) stats.agreed++;
          stats.absDiffSum += diff;
          this.record(name, shadow.version, 'shadow', seconds, held.value.kind.summarize(output));
          this.metrics.recordShadowComparison({ name, version: primary.version }, shadow.version, agree, diff);
        });
      })
      .catch(() => {
        stats.failed++;
        this.record(name, shadow.version, 'shadow', (performance.now() - started) / 1000, undefined);
      })
      .finally(() => {
        this.shadowsRunning--;
        held.release();
      });
  }

  /**
   * The policy in force here and the comparison of versions: this replica's counts, or with
   * `fleet` (the other replicas' last reports) every replica's, summed.
   */
  summary(name: string, fleet?: { replica: string; revision: number; digest: string; at: number; stats: TrafficSnapshot }[]): TrafficSummary {
    const st = this.state(name);
    const { configProblem } = this.repo.trafficConfig(name);
    const shadowVersion = st.policy?.shadow?.version;
    const self = this.opts.replica ?? 'this';
    const { revision, digest } = this.repo.configRevision(name);
    const others = (fleet ?? []).filter((r) => r.replica !== self);
    const counts = others.length > 0 ? sumSnapshots([this.snapshot(name), ...others.map((r) => r.stats)]) : { versions: st.versions, shadow: st.shadow };
    const sh = shadowVersion ? counts.shadow.get(shadowVersion) : undefined;
    const round = (x: number): number => Math.round(x * 1e6) / 1e6;
    const replicas = [{ replica: self, revision, digest, reported_at: new Date().toISOString() }, ...others.map((r) => ({ replica: r.replica, revision: r.revision, digest: r.digest, reported_at: new Date(r.at).toISOString() }))];
    return {
      model: name,
      policy: st.policy ?? null,
      source: st.source ?? null,
      revision,
      replica: self,
      statistics: fleet ? 'fleet' : 'replica',
      replicas: replicas.sort((a, b) => a.replica.localeCompare(b.replica)),
      problem: st.problem ?? null,
      config_problem: configProblem ?? null,
      versions: [...counts.versions.entries()]
        .sort((a, b) => Number(b[0]) - Number(a[0]))
        .map(([version, v]) => ({
          version,
          role: v.role,
          requests: v.requests,
          errors: v.errors,
          mean_latency_ms: v.requests ? round((v.latencySum / v.requests) * 1000) : null,
          mean_confidence: v.answered ? round(v.confidenceSum / v.answered) : null,
          classes: v.classes,
        })),
      shadow: shadowVersion
        ? {
            version: shadowVersion,
            compared: sh?.compared ?? 0,
            agreement_rate: sh?.compared ? round(sh.agreed / sh.compared) : null,
            mean_abs_diff: sh?.compared ? round(sh.absDiffSum / sh.compared) : null,
            dropped: sh?.dropped ?? 0,
            failed: sh?.failed ?? 0,
          }
        : null,
    };
  }
}

/** Several replicas' counts of one model, added up. */
function sumSnapshots(snapshots: TrafficSnapshot[]): { versions: Map<string, VersionStats>; shadow: Map<string, ShadowStats> } {
  const versions = new Map<string, VersionStats>();
  const shadow = new Map<string, ShadowStats>();
  for (const snap of snapshots) {
    for (const [v, x] of Object.entries(snap.versions)) {
      const sum = versions.get(v) ?? { role: x.role, requests: 0, errors: 0, latencySum: 0, confidenceSum: 0, answered: 0, classes: {} };
      versions.set(v, {
        role: x.role,
        requests: sum.requests + x.requests,
        errors: sum.errors + x.errors,
        latencySum: sum.latencySum + x.latencySum,
        confidenceSum: sum.confidenceSum + x.confidenceSum,
        answered: sum.answered + x.answered,
        classes: Object.fromEntries([...new Set([...Object.keys(sum.classes), ...Object.keys(x.classes)])].map((c) => [c, (sum.classes[c] ?? 0) + (x.classes[c] ?? 0)])),
      });
    }
    for (const [v, x] of Object.entries(snap.shadow)) {
      const sum = shadow.get(v) ?? { compared: 0, agreed: 0, absDiffSum: 0, dropped: 0, failed: 0 };
      shadow.set(v, { compared: sum.compared + x.compared, agreed: sum.agreed + x.agreed, absDiffSum: sum.absDiffSum + x.absDiffSum, dropped: sum.dropped + x.dropped, failed: sum.failed + x.failed });
    }
  }
  return { versions, shadow };
}
