/** Traffic policies alone: parsing, weighted choice, sticky assignment, roles, and the client key. */
import type { FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { parseTrafficPolicy, pickVersion, roleOf, unavailableVersions } from '../../src/repository/traffic-policy.js';
import { clientKey } from '../../src/routes/client-key.js';

describe('traffic policy', () => {
  it('parses versions as strings with sticky off by default, and refuses what is wrong', () => {
    expect(parseTrafficPolicy({ split: { '1': 95, '2': 5 } })).toEqual({ split: { '1': 95, '2': 5 }, sticky: false });
    expect(parseTrafficPolicy({ shadow: { version: 3, fraction: 0.5 } })).toEqual({ sticky: false, shadow: { version: '3', fraction: 0.5 } });
    expect(() => parseTrafficPolicy({ split: { '1': -1, '2': 3 } })).toThrow(/negative/);
    expect(() => parseTrafficPolicy({ split: { '1': 0 } })).toThrow(/all be zero/);
    expect(() => parseTrafficPolicy({ split: { v1: 1 } })).toThrow(/versions/);
    expect(() => parseTrafficPolicy({ split: { '1': 1 }, weights: {} })).toThrow(/weights/);
    expect(() => parseTrafficPolicy({ split: { '1': Number.POSITIVE_INFINITY } })).toThrow(/invalid traffic policy/);
    expect(unavailableVersions(parseTrafficPolicy({ split: { '1': 1, '2': 1 }, shadow: { version: '3', fraction: 1 } }), new Set(['1']))).toBe('versions 2, 3 are not AVAILABLE');
  });

  it('sticky choice depends only on the key and the weights; otherwise shares are exact', () => {
    const policy = parseTrafficPolicy({ split: { '1': 50, '2': 30, '3': 20 }, sticky: true });
    const all = new Set(['1', '2', '3']);
    for (let i = 0; i < 200; i++) expect(pickVersion(policy, all, `k${i}`)).toBe(pickVersion(policy, all, `k${i}`));
    // Without version 3 its clients spread over the others; nobody else moves.
    for (let i = 0; i < 500; i++) {
      const before = pickVersion(policy, all, `k${i}`);
      const after = pickVersion(policy, new Set(['1', '2']), `k${i}`);
      if (before !== '3') expect(after).toBe(before);
    }
    // Without sticky: smooth weighted round-robin, exact to within one request over any run.
    const counters = new Map<string, number>();
    const counts: Record<string, number> = {};
    const loose = parseTrafficPolicy({ split: { '1': 75, '2': 25 } });
    for (let i = 1; i <= 4000; i++) {
      const v = pickVersion(loose, all, 'ignored without sticky', counters)!;
      counts[v] = (counts[v] ?? 0) + 1;
      expect(Math.abs((counts['2'] ?? 0) - i * 0.25)).toBeLessThanOrEqual(1);
    }
    expect(pickVersion(loose, new Set(['7']), undefined)).toBeUndefined();
  });

  it('roles: the heaviest version of the split is primary, the others canaries', () => {
    const policy = parseTrafficPolicy({ split: { '1': 95, '2': 5 } });
    expect([roleOf(policy, '1'), roleOf(policy, '2'), roleOf(undefined, '1')]).toEqual(['primary', 'canary', 'primary']);
  });

  it('the client key: X-Client-Id, else the API key, else none', () => {
    const request = (headers: Record<string, string>) => ({ headers }) as unknown as FastifyRequest;
    expect(clientKey(request({ 'x-client-id': 'u-1' }), 'key-3')).toBe('client:u-1');
    expect(clientKey(request({}), 'key-3')).toBe('key:key-3');
    expect(clientKey(request({}), null)).toBeUndefined();
    expect(clientKey(request({ 'x-client-id': 'x'.repeat(300) }), null)).toBeUndefined();
  });
});
