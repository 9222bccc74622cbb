/** Every setting comes from the environment, validated once by this schema. */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { readApiKeys } from './auth/api-keys.js';
import { BACKEND_CHOICES } from './runtimes/tfjs/backend-choice.js';
import { RUNTIME_CHOICES } from './runtimes/runtime.js';
import { isModelName, MODEL_NAME_RULE } from './repository/names.js';

const MiB = 1024 * 1024;

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** An empty value (`VAR=` in .env) means the variable is not set. */
const unset = z.literal('').transform(() => undefined);

export const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('production'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8000),
  /** The Open Inference Protocol over gRPC (0: off). */
  GRPC_PORT: z.coerce.number().int().min(0).max(65535).default(8081),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** A folder of `<name>/<version>/` model folders, or s3://bucket/prefix. */
  MODEL_REPOSITORY: z.string().min(1).default('models'),
  /** The model that /predict and /predict/batch serve. */
  DEFAULT_MODEL: z.string().refine(isModelName, { message: MODEL_NAME_RULE }).default('cifar10'),
  /** Seconds between repository scans for new, changed and removed versions; 0 = off. */
  MODEL_POLL_INTERVAL_S: z.coerce.number().min(0).max(86_400).default(10),
  /** Where versions from a remote repository are downloaded to. */
  MODEL_CACHE_DIR: z.string().min(1).default(join('.cache', 'models')),
  /** Train tabular versions that hold only a recipe (train.json) when they load. */
  MODEL_AUTOTRAIN: bool.default(false),
  /** Largest version (all its files together) the server loads or downloads. */
  MODEL_MAX_BYTES: z.coerce.number().int().positive().default(512 * MiB),
  /** S3-compatible store for s3:// repositories (credentials: the standard AWS chain). */
  S3_ENDPOINT: z.url().optional().or(unset),
  S3_FORCE_PATH_STYLE: bool.default(false),
  /** Keys for the admin routes (load, unload, reload); none = those routes answer 403. */
  ADMIN_API_KEYS: z.string().min(1).optional().or(unset),
  INFERENCE_BACKEND: z.enum(BACKEND_CHOICES).default('auto'),
  /** Which runtime serves a version whose folder holds both model.json and model.onnx (auto: ONNX Runtime). */
  INFERENCE_RUNTIME: z.enum(RUNTIME_CHOICES).default('auto'),
  /** ONNX Runtime intra-op threads per session (auto: the cores shared out over INFERENCE_WORKERS). */
  ONNX_INTRA_OP_THREADS: z.union([z.literal('auto'), z.coerce.number().int().min(1).max(64)]).default('auto'),
  MAX_UPLOAD_BYTES: z.coerce.number().int().positive().default(10 * MiB),
  MAX_BATCH_UPLOAD_BYTES: z.coerce.number().int().positive().default(64 * MiB),
  MAX_INPUT_PIXELS: z.coerce.number().int().positive().default(25_000_000),
  /** Largest text (or e-mail, or the text an e-mail or HTML holds) one text-model input may be, in UTF-8 bytes. */
  MAX_TEXT_BYTES: z.coerce.number().int().positive().default(512 * 1024),
  MAX_BATCH_FILES: z.coerce.number().int().min(1).max(1024).default(32),
  DEFAULT_TOP_K: z.coerce.number().int().min(1).max(10).default(3),
  WARMUP_RUNS: z.coerce.number().int().min(0).max(100).default(2),
  /** Inference hosts, processes or threads (0: one instance on the main thread; auto: one per core). */
  INFERENCE_WORKERS: z
    .union([z.literal('auto').transform(() => availableParallelism()), z.coerce.number().int().min(0).max(64)])
    .default(availableParallelism()),
  /** Where the inference hosts run: child processes (a native crash ends one host, which is replaced), or worker threads. */
  INFERENCE_HOSTS: z.enum(['threads', 'processes']).default('processes'),
  /** With process hosts: a host whose batch takes longer is killed and replaced (0: never). */
  INFERENCE_BATCH_TIMEOUT_MS: z.coerce.number().int().min(0).default(30_000),
  /** Memory ceiling of each process host in MiB (auto: 80 % of the memory the server may use, shared out over the hosts; 0: none). */
  INFERENCE_HOST_MEMORY_MB: z.union([z.literal('auto'), z.coerce.number().int().min(0)]).default('auto'),
  /** Tests and drills only: a version folder's fault.json makes its host abort or exhaust memory. */
  INFERENCE_FAULT_INJECTION: bool.default(false),
  MAX_BATCH_SIZE: z.coerce.number().int().min(1).max(1024).default(32),
  MAX_BATCH_DELAY_MS: z.coerce.number().min(0).max(1000).default(0),
  /** Scheduling niceness of inference worker threads: HTTP, probes and decoding run ahead of compute. */
  INFERENCE_WORKER_NICE: z.coerce.number().int().min(0).max(19).default(10),
  MAX_QUEUE: z.coerce.number().int().min(1).default(128),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  SHUTDOWN_DRAIN_MS: z.coerce.number().int().min(0).default(1_000),
  REQUEST_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  KEEP_ALIVE_TIMEOUT_MS: z.coerce.number().int().positive().default(72_000),
  DOCS_ENABLED: bool.default(true),
  /** The demo page at /demo (and GET / redirecting browsers to it). */
  DEMO_ENABLED: bool.default(true),
  /** Explanations running at once; more are answered 503 + Retry-After (each is many model evaluations). */
  EXPLAIN_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
  /** Shadow requests (traffic policies) running at once; more are dropped, so shadows never pile up under load. */
  SHADOW_QUEUE: z.coerce.number().int().min(0).max(1024).default(8),
  /** Prediction cache: entries kept (LRU) and their lifetime; either 0 turns the cache off. */
  CACHE_MAX_ENTRIES: z.coerce.number().int().min(0).default(10_000),
  CACHE_TTL_S: z.coerce.number().int().min(0).default(3600),
  /** Shared cache in Redis instead of the embedded one (redis://[:password@]host:port/db). */
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\/.+/, 'must be a redis:// or rediss:// URL')
    .optional()
    .or(unset),
  REDIS_KEY_PREFIX: z.string().default('ml-inference-api:'),
  REDIS_TIMEOUT_MS: z.coerce.number().int().positive().default(100),
  /** With REDIS_URL: how often each replica reports the config revision it serves and its traffic counts (GET /v1/models/{name}/traffic answers for the fleet). */
  FLEET_REPORT_INTERVAL_S: z.coerce.number().min(0.1).max(3600).default(5),
  /** API keys (comma-separated) and/or a file of keys; none = the API is open. */
  API_KEYS: z.string().min(1).optional().or(unset),
  API_KEYS_FILE: z.string().min(1).optional().or(unset),
  /** Serve /metrics without an API key even when keys are configured. */
  METRICS_PUBLIC: bool.default(false),
  /** Requests per RATE_LIMIT_WINDOW per API key (per client IP without keys); 0 = no limit. */
  RATE_LIMIT_MAX: z.coerce.number().int().min(0).default(0),
  RATE_LIMIT_WINDOW: z.string().regex(/^\d+(\s*(ms|millisecond|second|minute|hour|day)s?)?$/, 'a number of ms, or e.g. "1 minute"').default('1 minute'),
  /** Origins allowed by CORS (comma-separated, or *); empty = no CORS headers. */
  CORS_ORIGINS: z.string().default(''),
  /** Load shedding on /predict*: past any of these, 503 + Retry-After (0 = that check off). */
  MAX_EVENT_LOOP_DELAY_MS: z.coerce.number().min(0).default(1000),
  MAX_HEAP_USED_BYTES: z.coerce.number().int().min(0).default(0),
  MAX_RSS_BYTES: z.coerce.number().int().min(0).default(0),
  /** The request headers must arrive within this time (slowloris). */
  HEADERS_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
});

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {}

/** Parse `env` (process.env by default); throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty value (`VAR=` in .env, `${VAR:-}` in compose) means the variable is not set.
  const given = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
  const result = configSchema.safeParse(given);
  const lines = result.success ? [] : result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
  if (given.MODEL_DIR) {
    lines.push('  MODEL_DIR: replaced by MODEL_REPOSITORY, a folder of <name>/<version>/ model folders (move the model to <repository>/<name>/1/)');
  }
  if (result.success) {
    // Keys are checked here so that a bad key or an unreadable file stops the process with
    // the variable's name, like every other setting.
    const { API_KEYS, API_KEYS_FILE, ADMIN_API_KEYS } = result.data;
    const check = (name: string, read: () => unknown): void => {
      try {
        read();
      } catch (err) {
        lines.push(`  ${name}: ${err instanceof Error ? err.message.replace(/^ENOENT: /, '') : String(err)}`);
      }
    };
    check('API_KEYS', () => readApiKeys(API_KEYS, undefined));
    check('API_KEYS_FILE', () => readApiKeys(undefined, API_KEYS_FILE));
    check('ADMIN_API_KEYS', () => readApiKeys(ADMIN_API_KEYS, undefined));
  }
  if (lines.length > 0 || !result.success) throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  return result.data;
}

/** Load `.env` into process.env when present (existing variables win). */
export function loadDotEnv(path = '.env'): void {
  if (existsSync(path)) process.loadEnvFile(path);
}
