/** Trains one recipe in its own thread (so serving is not blocked) and writes the version files. */
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '../runtimes/tfjs/backend.js';
import { GRIDS, RECIPES, SHIPPED_CHOICE } from './tabular-recipes.js';
import { writeVersionFiles } from './tabular.js';

export interface AutotrainJob {
  dataset: string;
  seed: number;
  /** Data file for recipes that read one (already resolved inside the version folder). */
  data?: string;
  /** A candidate of the recipe's grid (train.json `family`); the shipped version's choice when absent or unknown. */
  family?: string;
  /** Where model.json, the shard and metadata.json are written. */
  out: string;
}

const job = workerData as AutotrainJob;
try {
  await initBackend('cpu');
  const recipe = RECIPES[job.dataset];
  if (!recipe) throw new Error(`unknown dataset ${JSON.stringify(job.dataset)}`);
  const candidate = job.family && GRIDS[job.dataset]?.includes(job.family) ? job.family : SHIPPED_CHOICE[job.dataset]!;
  const trained = await recipe({ seed: job.seed, command: `MODEL_AUTOTRAIN (train.json: ${job.dataset}, ${candidate}, seed ${job.seed})`, grid: [candidate], ...(job.data ? { data: job.data } : {}) });
  await writeVersionFiles(job.out, trained);
  parentPort!.postMessage({ ok: true, accuracy: trained.metadata.validation?.accuracy ?? null });
} catch (err) {
  parentPort!.postMessage({ ok: false, message: err instanceof Error ? err.message : String(err) });
}
