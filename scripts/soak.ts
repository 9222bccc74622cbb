/**
 * Soak test of the real server: mixed valid and invalid traffic, RSS over time, and a SIGTERM
 * under load at the end.
 *
 *   npm run soak -- [--minutes 10] [--concurrency 64] [--invalid 0.2] [--out reports/soak]
 *                   [--chaos 30]
 *
 * --chaos N runs the inference hosts as processes and kills one (SIGKILL) every N seconds;
 * clients retry a valid request answered 503 with Retry-After (up to 3 times), and it counts
 * as lost unless a retry gets its 200.
 * Progress every 10 s; the report (JSON and markdown) is written when the run ends. A soak
 * cannot be resumed (a restarted server is a new soak), so an interrupted run is started again.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runSoak } from './lib/soak.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '64' },
    invalid: { type: 'string', default: '0.2' },
    port: { type: 'string', default: '8191' },
    out: { type: 'string', default: 'reports/soak' },
    chaos: { type: 'string', default: '0' },
  },
});

const log = (line: string): void => console.log(`[soak ${new Date().toISOString().slice(11, 19)}] ${line}`);
const seconds = Math.round(Number(values.minutes) * 60);
log(`${seconds} s at concurrency ${values.concurrency}, ${Number(values.invalid) * 100}% invalid inputs, then SIGTERM under load`);
const report = await runSoak({
  seconds,
  concurrency: Number(values.concurrency),
  invalidRatio: Number(values.invalid),
  port: Number(values.port),
  serverArgs: ['--max-semi-space-size=4', 'dist/server.js'],
  cwd: process.cwd(),
  onProgress: log,
  ...(Number(values.chaos) > 0 && { chaosEveryS: Number(values.chaos) }),
});

const rss = report.rssMb;
const md = [
  `Soak: ${report.seconds} s at concurrency ${report.concurrency}, ${Number(values.invalid) * 100}% invalid inputs${report.chaos ? `, process hosts with one killed (SIGKILL) every ${values.chaos} s` : ''}, SIGTERM under load at the end.`,
  '',
  '| measure | value |',
  '| --- | --- |',
  `| requests answered | ${report.requests} |`,
  `| statuses | ${Object.entries(report.statuses).map(([s, n]) => `${s}: ${n}`).join(', ')} |`,
  `| 5xx before SIGTERM | ${report.serverErrorsBeforeSigterm} |`,
  `| 5xx other than 503 refusals, any time | ${report.unexpectedServerErrors} |`,
  `| valid requests sent before SIGTERM without a 200 | ${report.failedValidBeforeSigterm} |`,
  `| invalid inputs without a 4xx | ${report.invalidNot4xx} |`,
  `| requests sent before SIGTERM with no answer | ${report.lostBeforeSigterm} |`,
  `| connection errors after SIGTERM (server gone) | ${report.connectionErrorsAfterSigterm} |`,
  `| RSS (MB) first / min / max / last | ${rss[0]} / ${Math.min(...rss)} / ${Math.max(...rss)} / ${rss.at(-1)} |`,
  `| RSS drift (last 10% vs first 10% after warm-up) | ${report.rssDriftPct}% |`,
  `| shutdown | exit code ${report.exitCode} after ${report.shutdownMs} ms |`,
  ...(report.chaos
    ? [
        `| host processes killed | ${report.chaos.hostKills} |`,
        `| hosts restarted, by reason (the server's count) | ${Object.entries(report.chaos.restarts).map(([r, n]) => `${r}: ${n}`).join(', ') || 'none'} |`,
        `| valid requests answered 503 + Retry-After, then retried | ${report.chaos.retried} |`,
        `| valid requests lost (no 200 after 3 retries) | ${report.chaos.lostAfterRetries} |`,
      ]
    : []),
].join('\n');
await mkdir(values.out, { recursive: true });
await writeFile(join(values.out, 'results.json'), `${JSON.stringify(report, null, 2)}\n`);
await writeFile(join(values.out, 'results.md'), `${md}\n`);
console.log(`\n${md}\n`);
const ok =
  report.unexpectedServerErrors === 0 &&
  report.serverErrorsBeforeSigterm === 0 &&
  report.failedValidBeforeSigterm === 0 &&
  report.lostBeforeSigterm === 0 &&
  report.exitCode === 0 &&
  (report.chaos?.lostAfterRetries ?? 0) === 0;
log(ok ? 'passed' : 'FAILED');
process.exitCode = ok ? 0 : 1;
