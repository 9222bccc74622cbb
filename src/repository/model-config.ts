/**
 * `<model>/config.json`: which versions are served (the version policy, named as Triton and
 * TF Serving name it) and which one answers requests that name no version.
 */
import { z } from 'zod';
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
  })
  .strict();

export type VersionPolicy = z.infer<typeof versionPolicySchema>;
export type ModelConfig = z.infer<typeof modelConfigSchema>;

export const DEFAULT_MODEL_CONFIG: ModelConfig = { version_policy: { latest: { num_versions: 1 } } };

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
