/** The benchmark's settings (command line), its results file, and what every phase shares. */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { RuntimeName } from '../../src/runtimes/runtime.js';
import { cpuPeak, type CpuPeak } from '../lib/cpu-peak.js';
import type { ProfileSummary } from '../lib/cpu-profile.js';
import type { StageForm, StageRuns } from './phases/stages.js';

export const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '1,8,32,128' },
    soak: { type: 'string', default: '0' },
    out: { type: 'string', default: 'reports/bench' },
    model: { type: 'string', default: 'models/cifar10/1' },
    repository: { type: 'string', default: 'models' },
    port: { type: 'string', default: '8190' },
    resume: { type: 'boolean', default: false },
    'redis-port': { type: 'string', default: '6391' },
    baseline: { type: 'string' },
    rounds: { type: 'string', default: '4' },
    phases: { type: 'string', default: 'all' },
  },
});


export const PHASES = ['ceiling', 'service', 'naive', 'threading', 'runtimes', 'profile', 'baseline', 'soak', 'cache', 'protocols', 'traffic', 'text', 'stages', 'grpc', 'hosts', 'fleet'] as const;
const chosen = new Set(values.phases === 'all' ? PHASES : values.phases.split(',').map((p) => p.trim()));
for (const p of chosen) if (!(PHASES as readonly string[]).includes(p)) throw new Error(`unknown phase '${p}'; one of ${PHASES.join(', ')}`);
/** Whether this run measures `phase` (--phases, default all). */
export const want = (phase: (typeof PHASES)[number]): boolean => chosen.has(phase);

export const duration = Number(values.duration);
export const concurrencies = values.concurrency.split(',').map(Number);
export const workers = availableParallelism();
export const maxBatch = 32;
export const port = Number(values.port);
export const base = `http://127.0.0.1:${port}`;
export const resultsFile = join(values.out, 'results.json');
export const images = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'].map((l) =>
  readFileSync(join('tests', 'fixtures', 'images', `${l}.jpg`)),
);


export interface LoadResult {
  concurrency: number;
  requests: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  statuses: Record<string, number>;
  errors: number;
  timeouts: number;
  rssMaxMb: number;
  probeP99Ms: number | null;
  /** The same probes against a trivial HTTP server in its own process: the machine's floor. */
  referenceProbeP99Ms?: number | null;
}

export interface Ceiling {
  imagesPerSecond: number;
  workers: number;
  batch: number;
  /** ONNX Runtime intra-op threads per worker. */
  intraOpThreads?: number;
}

export const RUNTIMES: RuntimeName[] = ['tfjs', 'onnx'];

export interface Results {
  machine: { cpus: number; node: string; peak?: CpuPeak };
  model: string;
  ceiling?: Partial<Record<RuntimeName, Ceiling>>;
  /** Keyed `<runtime>-<concurrency>`. */
  service: Record<string, LoadResult>;
  threading?: Record<string, LoadResult>;
  /** Concurrency 32, alternating TF.js and ONNX Runtime servers, --rounds each: 200s per second. */
  runtimeRounds?: Record<RuntimeName, number[]> & { p50c1?: Record<RuntimeName, number[]> };
  profile?: ProfileSummary;
  /** The same profile of the --baseline server. */
  profileBaseline?: ProfileSummary;
  naive: Record<string, LoadResult>;
  /** This server and another revision's (--baseline) at concurrency 32, alternating: /predict req/s, and V2 binary pixels req/s. */
  baseline?: { dir: string; concurrency: number; service: number[]; baseline: number[]; v2?: { service: number[]; baseline: number[] }; cpuMs?: Record<string, number[]> };
  cache?: Record<string, LoadResult>;
  /** Sequential keep-alive requests, timed to the microsecond (autocannon rounds to ms). */
  sequential?: Record<string, { requests: number; p50Ms: number; p99Ms: number; meanMs: number }>;
  soak?: { seconds: number; concurrency: number; rps: number; rssMb: number[]; driftPct: number; statuses: Record<string, number> };
  /** Concurrency 32 on one ONNX Runtime server, alternating request forms, --rounds each: 200s per second and p50. */
  protocols?: { rps: Record<string, number[]>; p50: Record<string, number[]>; errors: Record<string, number> };
  /** Keyed by host kind (threads, processes). */
  hosts?: { startMs: Record<string, number[]>; idlePssMb: Record<string, number[]>; rps: Record<string, number[]>; cpuMs: Record<string, number[]>; p50c1Ms: Record<string, number[]>; errors: Record<string, number> };
  /** Keyed by form (GRPC_FORMS). */
  grpc?: { rps: Record<string, number[]>; p50: Record<string, number[]>; cpuMs: Record<string, number[]>; errors: Record<string, number> };
  /** Keyed `<shadow|none>-<concurrency>`: p50 and p99 of primary latency per round, and the shadow counts. */
  traffic?: { p50: Record<string, number[]>; p99: Record<string, number[]>; rps: Record<string, number[]>; shadow?: Record<string, number> };
  /** The spam filter on a 4 KB e-mail, keyed `<rfc822|json>-<concurrency>`, with the server's CPU per request. */
  text?: Record<string, LoadResult & { cpuMsPerRequest: number; bytes: number }>;
  /** Keyed direct (one replica, no balancer) and lb1..lb3 (nginx in front of 1..3 replicas): iris req/s and p50 at concurrency 32 per round; ms for a policy to reach every replica. */
  fleet?: { rps: Record<string, number[]>; p50: Record<string, number[]>; errors: Record<string, number>; propagationMs: { redis?: number[]; poll?: number[] }; pollIntervalS: number };
  /** Per request form, per server (this one, and --baseline's): the runs of the stages phase. */
  stages?: Partial<Record<'service' | 'baseline', Partial<Record<StageForm, StageRuns>>>>;
}

export const results: Results =
  values.resume && existsSync(resultsFile)
    ? (JSON.parse(await readFile(resultsFile, 'utf8')) as Results)
    : { machine: { cpus: workers, node: process.version }, model: values.model, service: {}, naive: {} };
// Recomputed on every run (also on --resume): the fractions below are derived from it.
results.machine.peak = cpuPeak();

export async function save(): Promise<void> {
  await mkdir(values.out, { recursive: true });
  await writeFile(resultsFile, `${JSON.stringify(results, null, 2)}\n`);
}

export function log(line: string): void {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);
}

