/**
 * Native memory across load/unload cycles: a version loaded into every inference thread,
 * run once, and unloaded, N times per runtime; the process's RSS after each cycle. A session
 * that was not released would add its weights (~2.6 MB for CIFAR-10, per thread) every cycle.
 *
 * First the sessions alone, on this thread, with a garbage collection after each cycle (the
 * native memory a session holds, nothing else); then through the service's worker pool, where
 * RSS also holds the threads' JavaScript heaps, which V8 grows until its next collections.
 *
 *   npm run load-cycles -- [--cycles 50] [--model models/cifar10/1] [--out reports/load-cycles]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { inputSizeOf, readImageMetadata } from '../src/kinds/image/metadata.js';
import { InstancePool } from '../src/inference/pool.js';
import { openKind } from './lib/kind.js';
import { OnnxModel } from '../src/runtimes/onnx/model.js';
import type { RuntimeName } from '../src/runtimes/runtime.js';
import { runtimeSpec } from '../src/runtimes/select.js';

const { values } = parseArgs({
  options: {
    cycles: { type: 'string', default: '50' },
    model: { type: 'string', default: 'models/cifar10/1' },
    out: { type: 'string', default: 'reports/load-cycles' },
  },
});
const cycles = Number(values.cycles);
const meta = await readImageMetadata(values.model);
const kind = await openKind(values.model);
const signature = kind.signature;
const workers = availableParallelism();
const mb = (): number => Math.round(process.memoryUsage().rss / 2 ** 20);
const report: Record<string, { rssMb: number[]; growthMb: number; perCycleKb: number }> = {};
const gc = (globalThis as { gc?: () => void }).gc;
const summarize = (name: string, rss: number[]): void => {
  // The first cycles grow the allocators' pools; growth is measured from cycle 10 on.
  const from = rss[Math.min(9, rss.length - 1)]!;
  const growth = rss.at(-1)! - from;
  report[name] = { rssMb: rss, growthMb: growth, perCycleKb: Math.round((growth * 1024) / Math.max(1, rss.length - 10)) };
  console.log(`${name}: RSS after cycle 1 ${rss[0]} MB, cycle 10 ${from} MB, cycle ${rss.length} ${rss.at(-1)} MB: ${growth >= 0 ? '+' : ''}${growth} MB over the last ${rss.length - 10} cycles`);
};

{
  const spec = await runtimeSpec(values.model, kind.runtime, signature, Number.MAX_SAFE_INTEGER, { choice: 'onnx', onnxThreads: 1 });
  if (spec.runtime !== 'onnx') throw new Error(`${values.model} holds no model.onnx`);
  const input = new Float32Array(32 * inputSizeOf(meta)).fill(0.1);
  const rss: number[] = [];
  for (let i = 0; i < cycles; i++) {
    const model = await OnnxModel.load(spec, 1);
    await model.run(input.slice(), 32);
    model.dispose();
    await new Promise((r) => setTimeout(r, 5));
    gc?.();
    rss.push(mb());
  }
  summarize(`onnx sessions, this thread${gc ? ', collected each cycle' : ' (run with --expose-gc to collect)'}`, rss);
}

for (const runtime of ['onnx', 'tfjs'] as RuntimeName[]) {
  const spec = await runtimeSpec(values.model, kind.runtime, signature, Number.MAX_SAFE_INTEGER, { choice: runtime, onnxThreads: 1 });
  const pool = await InstancePool.start({ workers, backend: 'auto', warmupRuns: 1, workerNice: 0 });
  const input = new Float32Array(32 * inputSizeOf(meta)).fill(0.1);
  const rss: number[] = [];
  const bar = new cliProgress.SingleBar({ format: `${runtime} {bar} {value}/{total} cycles, RSS {rss} MB` }, cliProgress.Presets.shades_classic);
  bar.start(cycles, 0, { rss: mb() });
  for (let i = 0; i < cycles; i++) {
    const key = `cycle-${i}`;
    await pool.load(key, spec);
    await Promise.all(Array.from({ length: workers }, () => pool.run(key, input.slice(), 32)));
    pool.unload(key);
    // Unload is a message to each thread: let them act on it before sampling.
    await new Promise((r) => setTimeout(r, 20));
    rss.push(mb());
    bar.update(i + 1, { rss: rss.at(-1) });
  }
  bar.stop();
  await pool.close();
  summarize(`${runtime} in ${workers} worker threads`, rss);
}
await mkdir(values.out, { recursive: true });
await writeFile(join(values.out, 'results.json'), `${JSON.stringify({ cycles, workers, model: values.model, ...report }, null, 2)}\n`);
