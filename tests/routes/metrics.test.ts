/** GET /metrics: valid Prometheus exposition whose numbers follow the traffic, and the JSON summary. */
import type { FastifyInstance } from 'fastify';
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../helpers/app.js';
import * as img from '../helpers/images.js';

async function scrape(app: FastifyInstance): Promise<Map<string, ParsedFamily>> {
  const res = await request(app.server).get('/metrics');
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  const families = parsePrometheusTextFormat(res.text);
  return new Map(families.map((f) => [f.name, f]));
}

/** Sum of a counter's or gauge's samples whose labels include `where`. */
function total(families: Map<string, ParsedFamily>, name: string, where: Record<string, string> = {}): number {
  const family = families.get(name);
  if (!family) throw new Error(`metric ${name} is missing`);
  expect(family.type === 'COUNTER' || family.type === 'GAUGE', `${name} is a counter or gauge`).toBe(true);
  return family.metrics
    .filter((m) => Object.entries(where).every(([k, v]) => m.labels?.[k] === v))
    .reduce((n, m) => n + Number(m.value), 0);
}

/**
 * Observations of a histogram whose labels include `where`. The text parser folds labelled
 * histograms into one sample, so the counts are read from the registry that renders the text.
 */
async function observations(app: FastifyInstance, name: string, where: Record<string, string> = {}): Promise<number> {
  const metric = await app.metrics.registry.getSingleMetric(name)?.get();
  if (!metric) throw new Error(`metric ${name} is missing`);
  return metric.values
    .filter((v) => (v as { metricName?: string }).metricName === `${name}_count` && Object.entries(where).every(([k, val]) => String(v.labels[k]) === val))
    .reduce((n, v) => n + v.value, 0);
}

describe('/metrics', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await buildApp();
  });
  afterAll(async () => {
    await app.close();
  });

  it('is valid exposition format with conventional names, every family typed and documented', async () => {
    const families = await scrape(app);
    for (const name of [
      'mlapi_process_resident_memory_bytes',
      'mlapi_nodejs_eventloop_lag_seconds',
      'mlapi_http_requests_total',
      'mlapi_http_request_duration_seconds',
      'mlapi_inference_batch_size',
      'mlapi_inference_queue_wait_seconds',
      'mlapi_inference_compute_seconds',
      'mlapi_inference_thread_cpu_seconds_total',
      'mlapi_inference_queue_depth',
      'mlapi_inference_in_flight_batches',
      'mlapi_preprocess_duration_seconds',
      'mlapi_model_load_seconds',
      'mlapi_model_info',
      'mlapi_model_load_failures_total',
      'mlapi_model_repository_errors_total',
      'mlapi_predictions_total',
      'mlapi_prediction_confidence',
      'mlapi_cache_lookups_total',
      'mlapi_cache_errors_total',
      'mlapi_errors_total',
    ]) {
      expect(families.has(name), name).toBe(true);
    }
    for (const family of families.values()) {
      expect(family.help, family.name).not.toBe('');
      expect(family.type, family.name).not.toBe('UNTYPED');
      if (family.type === 'COUNTER') expect(family.name).toMatch(/_total$/);
    }
    const info = families.get('mlapi_model_info')!.metrics[0]!;
    expect(info.labels).toMatchObject({ model: 'cifar10', version: '1', runtime: 'onnx', backend: 'cpu' });
    expect(total(families, 'mlapi_model_load_seconds')).toBeGreaterThan(0);
    // Every class is there from the start, so a dashboard sees a class that is never predicted.
    expect(families.get('mlapi_predictions_total')!.metrics.filter((m) => m.labels?.model === 'cifar10')).toHaveLength(10);
  });

  it('counters move with traffic: requests, predictions, batches, cache lookups and errors', async () => {
    const histograms = {
      duration: ['mlapi_http_request_duration_seconds', { route: '/predict' }],
      confidence: ['mlapi_prediction_confidence', {}],
      batches: ['mlapi_inference_batch_size', {}],
      preprocess: ['mlapi_preprocess_duration_seconds', {}],
    } as const;
    const counts = async () =>
      Object.fromEntries(await Promise.all(Object.entries(histograms).map(async ([k, [n, w]]) => [k, await observations(app, n, w)] as const)));
    const histBefore = await counts();
    const before = await scrape(app);
    for (const label of ['cat', 'dog', 'cat'] as const) {
      const res = await request(app.server).post('/predict').attach('file', img.photo(label), `${label}.jpg`);
      expect(res.status).toBe(200);
    }
    const bad = await request(app.server).post('/predict').attach('file', Buffer.from('not an image'), 'x.jpg');
    expect(bad.status).toBe(400);
    const after = await scrape(app);
    const histAfter = await counts();

    const delta = (name: string, where: Record<string, string> = {}) => total(after, name, where) - total(before, name, where);
    expect(delta('mlapi_http_requests_total', { route: '/predict', status_code: '200' })).toBe(3);
    expect(delta('mlapi_http_requests_total', { route: '/predict', status_code: '400' })).toBe(1);
    expect(histAfter.duration! - histBefore.duration!).toBe(4);
    expect(delta('mlapi_predictions_total')).toBe(3);
    expect(histAfter.confidence! - histBefore.confidence!).toBe(3);
    expect(delta('mlapi_cache_lookups_total', { result: 'miss' })).toBe(3); // two first sights and the bad file
    expect(delta('mlapi_cache_lookups_total', { result: 'hit' })).toBe(1);
    expect(histAfter.batches! - histBefore.batches!).toBe(2); // the repeated cat came from the cache
    expect(histAfter.preprocess! - histBefore.preprocess!).toBe(3); // two photos and the bad file
    expect(delta('mlapi_errors_total', { code: 'not-an-image', status_code: '400' })).toBe(1);
    expect(total(after, 'mlapi_inference_queue_depth')).toBe(0);
    // The inference threads' CPU time moved with the two batches (Linux).
    expect(delta('mlapi_inference_thread_cpu_seconds_total')).toBeGreaterThan(0);
  });

  it('answers Accept: application/json with a summary for people', async () => {
    await request(app.server).post('/predict').attach('file', img.photo('ship'), 'ship.jpg');
    await request(app.server).post('/predict').attach('file', img.photo('ship'), 'ship.jpg');
    const res = await request(app.server).get('/metrics').set('Accept', 'application/json');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const s = res.body;
    expect(Object.keys(s).sort()).toEqual(
      [
        'avg_latency_ms',
        'cache_hit_rate',
        'model',
        'p50_latency_ms',
        'p95_latency_ms',
        'p99_latency_ms',
        'predictions_by_class',
        'total_predictions',
        'total_requests',
        'uptime_s',
      ].sort(),
    );
    expect(s.model).toEqual({ name: 'cifar10', version: '1', runtime: 'onnx', backend: 'cpu' });
    expect(s.total_requests).toBeGreaterThanOrEqual(s.total_predictions);
    expect(s.total_predictions).toBeGreaterThanOrEqual(2);
    expect(Object.keys(s.predictions_by_class).sort()).toEqual([...img.LABELS].sort());
    const counted = Object.values(s.predictions_by_class as Record<string, number>).reduce((a, b) => a + b, 0);
    expect(counted).toBe(s.total_predictions);
    expect(s.cache_hit_rate).toBeGreaterThan(0);
    expect(s.cache_hit_rate).toBeLessThan(1);
    expect(s.p50_latency_ms).toBeGreaterThan(0);
    expect(s.p99_latency_ms).toBeGreaterThanOrEqual(s.p50_latency_ms);
    expect(s.avg_latency_ms).toBeGreaterThan(0);
    expect(s.uptime_s).toBeGreaterThan(0);
  });

  it('gives Prometheus its text format even when its Accept header lists several types', async () => {
    const res = await request(app.server)
      .get('/metrics')
      .set('Accept', 'application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1');
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
  });
});
