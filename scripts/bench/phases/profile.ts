/** profile: a CPU profile of the server (every thread) at concurrency 32 on ONNX Runtime, and its CPU per request. */
import { join, resolve } from 'node:path';
import { summarizeProfiles, type ProfileSummary } from '../../lib/cpu-profile.js';
import { duration, log, results, save, values, want } from '../context.js';
import { load, processCpuSeconds, startServer, stopServer, warmUp } from '../harness.js';


export async function run(): Promise<void> {
  if (!want('profile')) return;
  if (!results.profile) results.profile = await profileOf('.', join(values.out, 'profile'));
  await save();
  // Before and after: the same profile of the --baseline server.
  if (values.baseline && !results.profileBaseline) results.profileBaseline = await profileOf(values.baseline, join(values.out, 'profile-baseline'));
  await save();
}

/** Profile the server built in `cwd` into `dir` (made absolute: the server runs in its own folder). */
async function profileOf(cwd: string, dir: string): Promise<ProfileSummary> {
  const usage = { cpuPerRequestMs: 0, cores: 0 };
  const server = await startServer({ CACHE_MAX_ENTRIES: '0', INFERENCE_RUNTIME: 'onnx' }, cwd, ['--cpu-prof', `--cpu-prof-dir=${resolve(dir)}`]);
  try {
    await warmUp();
    log(`profile: ${cwd === '.' ? 'this server' : cwd}, onnx, concurrency 32, ${duration} s`);
    const cpuBefore = processCpuSeconds(server.pid!);
    const r = await load(server.pid!, 32, duration);
    const cpu = processCpuSeconds(server.pid!) - cpuBefore;
    usage.cpuPerRequestMs = Math.round((cpu / Math.max(1, r.requests)) * 1e5) / 100;
    usage.cores = Math.round((cpu / duration) * 100) / 100;
  } finally {
    await stopServer(server);
  }
  const summary = await summarizeProfiles(dir);
  summary.lines.push('', `The server process used ${usage.cores} cores of CPU over the run (all threads, libvips and ONNX Runtime included): ${usage.cpuPerRequestMs} ms of CPU per request.`);
  return summary;
}
