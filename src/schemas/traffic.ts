import { z } from 'zod';

export const trafficSummarySchema = z
  .object({
    model: z.string(),
    policy: z
      .object({
        split: z.record(z.string(), z.number()).optional(),
        sticky: z.boolean(),
        shadow: z.object({ version: z.string(), fraction: z.number() }).optional(),
      })
      .nullable()
      .describe('The policy in force (null: every unversioned request goes to the default version)'),
    source: z.enum(['file', 'api']).nullable().describe("Where the policy in force came from: config.json as an operator wrote it ('file'), or as the server recorded a PUT ('api': the file carries a revision)"),
    revision: z.number().int().describe("The revision of the model's config.json (traffic policy, unload) this replica serves; 0 for a file never changed through the server. Also the ETag"),
    replica: z.string().describe('The replica that answered (host/pid)'),
    statistics: z.enum(['replica', 'fleet']).describe("Whose requests `versions` and `shadow` count: this replica's, or every replica's as they last reported through Redis (REDIS_URL)"),
    replicas: z
      .array(z.object({ replica: z.string(), revision: z.number().int(), digest: z.string().describe('A digest of the config it serves (equal on replicas serving the same file)'), reported_at: z.string() }))
      .describe('Every replica serving the model and the revision it serves, as reported through Redis; this replica alone without REDIS_URL'),
    problem: z.string().nullable().describe('Why the last policy offered in config.json was refused (the previous stays in force)'),
    config_problem: z.string().nullable().describe("Why the model's config.json could not be read at all (the previous settings stay)"),
    versions: z.array(
      z.object({
        version: z.string(),
        role: z.enum(['primary', 'canary', 'shadow']),
        requests: z.number().int(),
        errors: z.number().int(),
        mean_latency_ms: z.number().nullable(),
        mean_confidence: z.number().nullable(),
        classes: z.record(z.string(), z.number()),
      }),
    ),
    shadow: z
      .object({
        version: z.string(),
        compared: z.number().int(),
        agreement_rate: z.number().nullable().describe('Share of compared requests whose top-1 label was the same'),
        mean_abs_diff: z.number().nullable().describe('Mean absolute difference of the probabilities (or values), averaged over outputs and requests'),
        dropped: z.number().int().describe('Shadow copies dropped because SHADOW_QUEUE were running'),
        failed: z.number().int(),
      })
      .nullable(),
  })
  .meta({ id: 'TrafficSummary' });
