/**
 * `<model>/config.json`: which versions are served (the version policy, named as Triton and
 * TF Serving name it) and which one answers requests that name no version.
 */
import { z } from 'zod';
import { ConfigConflictError } from './errors.js';
import { byVersionDesc, isVersion, VERSION_RULE } from './names.js';

const versionString = z
  .union([z.string(), z.number().int()])
  .transform((v) => String(v))
  .refine(isVersion, { message: `a version must be ${VERSION_RULE}` });

const versionPolicySchema = z.union([
  z.object({ latest: z.object({ num_versions: z.number().int().min(1).max(1000) }).strict() }).strict(),
  z.object({ specific: z.object({ versions: z.array(versionString).min(1).max(1000) }).strict() }).strict(),
  z.object({ all: z.object({}).strict() }).strict(),
]);

const modelConfigSchema = z
  .object({
    version_policy: versionPolicySchema.default({ latest: { num_versions: 1 } }),
    default_version: versionString.optional(),
    /** Checked by repository/traffic-policy.ts, which keeps the previous policy when this one is refused. */
    traffic: z.unknown().optional(),
    /** Unloaded by an admin call: no version loads, on any replica, until an admin load. */
    unloaded: z.boolean().optional(),
    /** Bumped by every change the server records (traffic, load, unload): the version check of concurrent writers. */
    revision: z.number().int().min(0).optional(),
  })
  .strict();

export type VersionPolicy = z.infer<typeof versionPolicySchema>;
export type ModelConfig = z.infer<typeof modelConfigSchema>;

export const DEFAULT_MODEL_CONFIG: ModelConfig = { version_policy: { latest: { num_versions: 1 } } };

/** The largest config.json read or written. */
export const MAX_CONFIG_BYTES = 64 * 1024;

/** A config.json's raw keys, as a change sees and returns them. */
export type RawModelConfig = Record<string, unknown>;

/** A change to a model's config.json, applied by the source under its version check. */
export interface ConfigChange {
  /** The new raw content from the current one (the revision is set by the source). */
  update(current: RawModelConfig): RawModelConfig;
  /** The revision the writer read; a different one in the store is a conflict (undefined: apply to whatever is there). */
  expectedRevision?: number;
}

/** The revision a config carries (0 when it has none: never changed through the server). */
export function revisionOf(config: ModelConfig): number {
  return config.revision ?? 0;
}

/** The text a change writes: the current content changed, with the next revision; checked as the server will read it. */
export function applyConfigChange(currentText: string | undefined, change: ConfigChange): { text: string; revision: number } {
  const current = currentText === undefined ? DEFAULT_MODEL_CONFIG : parseModelConfigOrConflict(currentText);
  const revision = revisionOf(current);
  if (change.expectedRevision !== undefined && change.expectedRevision !== revision) throw new ConfigConflictError('revision-conflict', `config.json is at revision ${revision}, not ${change.expectedRevision}: it was changed since it was read; read it again`, revision);
  const raw = currentText === undefined ? {} : (JSON.parse(currentText) as RawModelConfig);
  const next = { ...change.update(raw), revision: revision + 1 };
  const text = `${JSON.stringify(next, null, 2)}\n`;
  parseModelConfig(text);
  if (Buffer.byteLength(text) > MAX_CONFIG_BYTES) throw new Error(`config.json would be ${Buffer.byteLength(text)} bytes; the limit is ${MAX_CONFIG_BYTES}`);
  return { text, revision: revision + 1 };
}

function parseModelConfigOrConflict(text: string): ModelConfig {
  try {
    return parseModelConfig(text);
  } catch (err) {
    throw new ConfigConflictError('config-invalid', `${(err as Error).message}; fix the file before changing it through the server`);
  }
}

/** Parse a config.json's text; throws an Error saying what is wrong. */
export function parseModelConfig(text: string): ModelConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`config.json is not valid JSON: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const parsed = modelConfigSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`config.json is invalid: ${z.prettifyError(parsed.error).replace(/\n\s*/g, ' ')}`);
  return parsed.data;
}

/** The versions the policy wants served, out of those present, highest first. */
export function selectVersions(policy: VersionPolicy, present: readonly string[]): string[] {
  const sorted = [...present].sort(byVersionDesc);
  if ('latest' in policy) return sorted.slice(0, policy.latest.num_versions);
  if ('specific' in policy) return sorted.filter((v) => policy.specific.versions.includes(v));
  return sorted;
}
