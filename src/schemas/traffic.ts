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
    source: z.enum(['file', 'api']).nullable().describe('Where the policy in force came from: config.json or PUT'),
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
