/**
 * The soak run in short: mixed valid and invalid traffic at concurrency 32 against the real
 * process, then SIGTERM under load. (`npm run soak` is the 10-minute version.)
 */
import { describe, expect, it } from 'vitest';
import { runSoak } from '../scripts/lib/soak.js';
import { ROOT, SHIPPED_REPOSITORY } from './helpers/app.js';
import { freePort } from './helpers/net.js';

describe('soak (short)', () => {
  it('answers every request with 200 or a documented 4xx, and loses no accepted request at SIGTERM', { timeout: 120_000 }, async () => {
    const report = await runSoak({
      seconds: 8,
      concurrency: 32,
      invalidRatio: 0.2,
      port: await freePort(),
      serverArgs: ['--import', 'tsx', 'src/server.ts'],
      cwd: ROOT,
      env: { MODEL_REPOSITORY: SHIPPED_REPOSITORY, SHUTDOWN_DRAIN_MS: '300', MAX_QUEUE: '1024' },
    });
    console.log(`soak: ${report.requests} requests ${JSON.stringify(report.statuses)}, RSS ${report.rssMb.join(' ')} MB, exit ${report.exitCode} after ${report.shutdownMs} ms`);
    expect(report.requests).toBeGreaterThan(200);
    expect(report.statuses['200']).toBeGreaterThan(0);
    expect(Object.keys(report.statuses).filter((s) => !['200', '400', '415', '422', '503'].includes(s))).toEqual([]);
    expect(report.serverErrorsBeforeSigterm).toBe(0);
    expect(report.unexpectedServerErrors).toBe(0);
    expect(report.failedValidBeforeSigterm).toBe(0);
    expect(report.invalidNot4xx).toBe(0);
    expect(report.lostBeforeSigterm).toBe(0);
    expect(report.exitCode).toBe(0);
  });
});
