import { z } from 'zod';

const ms = z.number().nullable();

export const metricsSummarySchema = z
  .object({
    total_requests: z.number().int().describe('HTTP requests answered since start, every route'),
    total_predictions: z.number().int().describe('Inputs classified since start, cache hits included'),
    cache_hit_rate: z.number().min(0).max(1).nullable().describe('Cache hits ÷ lookups; null before the first lookup or with the cache off'),
    avg_latency_ms: ms.describe('Mean latency of successful prediction requests since start'),
    p50_latency_ms: ms.describe('Median prediction latency over the last 10 minutes'),
    p95_latency_ms: ms,
    p99_latency_ms: ms,
    predictions_by_class: z.record(z.string(), z.number().int()).describe('Predicted class counts: the input mix'),
    uptime_s: z.number(),
    model: z.object({ name: z.string(), version: z.string(), runtime: z.string(), backend: z.string() }).nullable(),
  })
  .meta({ id: 'MetricsSummary' });
