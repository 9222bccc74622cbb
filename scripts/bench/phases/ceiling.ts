/** ceiling: the bare model on each runtime (TF.js, ONNX Runtime), same weights, in worker threads at batch MAX_BATCH_SIZE, no HTTP. */
import { InstancePool } from '../../../src/inference/pool.js';
import { inputSizeOf, readImageMetadata } from '../../../src/kinds/image/metadata.js';
import type { RuntimeName } from '../../../src/runtimes/runtime.js';
import { runtimeSpec } from '../../../src/runtimes/select.js';
import { openKind } from '../../lib/kind.js';
import { duration, log, maxBatch, results, RUNTIMES, save, values, want, workers } from '../context.js';

/** Images/s of the bare model: every worker kept busy with full batches, no HTTP, no decoding. */
async function measureCeiling(runtime: RuntimeName, seconds: number, intraOpThreads = 1): Promise<number> {
  const meta = await readImageMetadata(values.model);
  const size = inputSizeOf(meta);
  const kind = await openKind(values.model);
  const spec = await runtimeSpec(values.model, kind.runtime, kind.signature, Number.MAX_SAFE_INTEGER, { choice: runtime, onnxThreads: intraOpThreads });
  const pool = await InstancePool.start({ workers, backend: 'auto', warmupRuns: 2, workerNice: 0 });
  await pool.load('bench', spec);
  const input = new Float32Array(maxBatch * size).map(() => Math.random() - 0.5);
  let done = 0;
  const end = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.max(1, workers) }, async () => {
      while (performance.now() < end) {
        await pool.run('bench', input.slice(), maxBatch);
        done += maxBatch;
      }
    }),
  );
  const rate = done / ((performance.now() - started) / 1000);
  await pool.close();
  return rate;
}

export const flopsPerImage = 2 * (await readImageMetadata(values.model)).multiplyAdds;
/** images/s × FLOPs per image ÷ the CPU's FP32 peak. */
export const peakShare = (imagesPerSecond: number): number => (imagesPerSecond * flopsPerImage) / (results.machine.peak!.gflops * 1e9);

export async function run(): Promise<void> {
  results.ceiling ??= {};
  for (const runtime of want('ceiling') ? RUNTIMES : []) {
    if (!results.ceiling[runtime]) {
      log(`ceiling ${runtime}: ${workers} worker(s), batch ${maxBatch}, ${duration} s`);
      const rate = Math.round(await measureCeiling(runtime, duration));
      results.ceiling[runtime] = { imagesPerSecond: rate, workers, batch: maxBatch, ...(runtime === 'onnx' && { intraOpThreads: 1 }) };
      await save();
    }
    log(`ceiling ${runtime}: ${results.ceiling[runtime].imagesPerSecond} images/s (${(peakShare(results.ceiling[runtime].imagesPerSecond) * 100).toFixed(1)} % of FP32 peak)`);
  }

}
