/** profile: a CPU profile of the server (every thread) at concurrency 32 on ONNX Runtime, and its CPU per request. */
import { join } from 'node:path';
import { summarizeProfiles } from '../../lib/cpu-profile.js';
import { duration, log, results, save, values, want } from '../context.js';
import { load, processCpuSeconds, startServer, stopServer, warmUp } from '../harness.js';


export async function run(): Promise<void> {
  const usage = { cpuPerRequestMs: 0, cores: 0 };
  if (want('profile') && !results.profile) {
    const dir = join(values.out, 'profile');
    const server = await startServer({ CACHE_MAX_ENTRIES: '0', INFERENCE_RUNTIME: 'onnx' }, '.', ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
    try {
      await warmUp();
      log(`profile: onnx, concurrency 32, ${duration} s`);
      const cpuBefore = processCpuSeconds(server.pid!);
      const r = await load(server.pid!, 32, duration);
      const cpu = processCpuSeconds(server.pid!) - cpuBefore;
      usage.cpuPerRequestMs = Math.round((cpu / Math.max(1, r.requests)) * 1e5) / 100;
      usage.cores = Math.round((cpu / duration) * 100) / 100;
    } finally {
      await stopServer(server);
    }
    results.profile = await summarizeProfiles(dir);
    results.profile.lines.push('', `The server process used ${usage.cores} cores of CPU over the run (all threads, libvips and ONNX Runtime included): ${usage.cpuPerRequestMs} ms of CPU per request.`);
    await save();
  }
}
