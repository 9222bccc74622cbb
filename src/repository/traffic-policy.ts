/**
 * Traffic policies, Fastify-free: how a model's unversioned requests are shared out between
 * its versions (`split`, optionally `sticky` per client), and which version also receives a
 * copy of some of them without answering (`shadow`).
 *
 *   {"split": {"1": 95, "2": 5}, "sticky": true, "shadow": {"version": "3", "fraction": 0.5}}
 *
 * Without `sticky`, requests are shared out by smooth weighted round-robin (exact shares).
 * Sticky assignment is weighted rendezvous hashing: each version scores −w / ln(h(key, v)),
 * h a hash of the client key and the version in (0, 1), and the highest score wins. The
 * same key keeps its version while the weights stay, and raising one version's weight only
 * moves clients to that version (no client moves between the others).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { isVersion, VERSION_RULE } from './names.js';

const versionString = z
  .union([z.string(), z.number().int()])
  .transform((v) => String(v))
  .refine(isVersion, { message: `a version must be ${VERSION_RULE}` });

/** A split's weights are relative; bounded so that their sum, and every counter, stays exact. */
export const MAX_WEIGHT = 1_000_000;

const trafficPolicySchema = z
  .object({
    split: z
      .record(z.string(), z.number().min(0, { message: 'weights must not be negative' }).max(MAX_WEIGHT, { message: `a weight is at most ${MAX_WEIGHT}` }))
      .optional()
      .refine((s) => s === undefined || Object.keys(s).every(isVersion), { message: `split keys must be versions (${VERSION_RULE})` })
      .refine((s) => s === undefined || Object.values(s).some((w) => w > 0), { message: 'the weights must not all be zero' })
      .refine((s) => s === undefined || Object.keys(s).length <= 100, { message: 'at most 100 versions in a split' }),
    sticky: z.boolean().default(false),
    shadow: z.object({ version: versionString, fraction: z.number().min(0).max(1) }).strict().optional(),
  })
  .strict();

export type TrafficPolicy = z.infer<typeof trafficPolicySchema>;

/** Parse a policy; throws an Error naming every problem. */
export function parseTrafficPolicy(raw: unknown): TrafficPolicy {
  const parsed = trafficPolicySchema.safeParse(raw);
  if (!parsed.success) throw new Error(`invalid traffic policy: ${z.prettifyError(parsed.error).replace(/\n\s*/g, ' ')}`);
  return parsed.data;
}

/** The versions a policy names that are not available now, as a reason; undefined when all are. */
export function unavailableVersions(policy: TrafficPolicy, available: ReadonlySet<string>): string | undefined {
  const named = [...Object.keys(policy.split ?? {}), ...(policy.shadow ? [policy.shadow.version] : [])];
  const missing = [...new Set(named)].filter((v) => !available.has(v));
  return missing.length > 0 ? `version${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not AVAILABLE` : undefined;
}

/** A uniform number in (0, 1) from a client key and a version. */
function unitHash(key: string, version: string): number {
  const digest = createHash('sha256').update(key).update('\0').update(version).digest();
  // 52 bits, shifted away from 0 and 1.
  const n = digest.readUIntBE(0, 6) * 16 + (digest[6]! >> 4);
  return (n + 0.5) / 2 ** 52;
}

/**
 * Smooth weighted round-robin (as nginx balances upstreams): every pick adds each version's
 * weight to its counter, takes the largest and subtracts the total from it. Over any run of
 * requests each version's share is exact to within one request, and versions interleave.
 */
function smoothWeighted(eligible: readonly (readonly [string, number])[], counters: Map<string, number>): string {
  const total = eligible.reduce((a, [, w]) => a + w, 0);
  let best: string | undefined;
  let bestValue = -Infinity;
  for (const [v, w] of eligible) {
    const value = (counters.get(v) ?? 0) + w;
    counters.set(v, value);
    if (value > bestValue) [best, bestValue] = [v, value];
  }
  counters.set(best!, bestValue - total);
  return best!;
}

/**
 * The version for one request: among the split's versions that are available, by weight;
 * with a client key and `sticky`, always the same for that key while the weights stay;
 * without, by smooth weighted round-robin over `counters` (the model's own).
 * Undefined when no split version can serve (the model's default version answers).
 */
export function pickVersion(policy: TrafficPolicy, available: ReadonlySet<string>, clientKey: string | undefined, counters: Map<string, number> = new Map()): string | undefined {
  const eligible = Object.entries(policy.split ?? {}).filter(([v, w]) => w > 0 && available.has(v));
  if (eligible.length === 0) return undefined;
  if (policy.sticky && clientKey !== undefined) {
    let best: string | undefined;
    let bestScore = -Infinity;
    for (const [v, w] of eligible) {
      const score = -w / Math.log(unitHash(clientKey, v));
      if (score > bestScore) [best, bestScore] = [v, score];
    }
    return best;
  }
  return smoothWeighted(eligible, counters);
}

/** The role a version plays: the split's heaviest version is primary, the others canaries. */
export function roleOf(policy: TrafficPolicy | undefined, version: string): 'primary' | 'canary' {
  const split = Object.entries(policy?.split ?? {});
  if (split.length === 0) return 'primary';
  const heaviest = split.reduce((a, b) => (b[1] > a[1] || (b[1] === a[1] && Number(b[0]) > Number(a[0])) ? b : a));
  return !(version in (policy?.split ?? {})) || heaviest[0] === version ? 'primary' : 'canary';
}
