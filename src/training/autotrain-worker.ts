/** Trains one recipe in its own thread (so serving is not blocked) and writes the version files. */
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '../runtimes/tfjs/backend.js';
import { RECIPES } from './tabular-recipes.js';
import { writeVersionFiles } from './tabular.js';

export interface AutotrainJob {
  dataset: string;
  seed: number;
  /** Data file for recipes that read one (already resolved inside the version folder). */
  data?: string;
  /** Where model.json, the shard and metadata.json are written. */
  out: string;
}

const job = workerData as AutotrainJob;
try {
  await initBackend('cpu');
  const recipe = RECIPES[job.dataset];
  if (!recipe) throw new Error(`unknown dataset ${JSON.stringify(job.dataset)}`);
  const trained = await recipe({ seed: job.seed, command: `MODEL_AUTOTRAIN (train.json: ${job.dataset}, seed ${job.seed})`, ...(job.data ? { data: job.data } : {}) });
  await writeVersionFiles(job.out, trained);
  parentPort!.postMessage({ ok: true, accuracy: trained.metadata.validation?.accuracy ?? null });
} catch (err) {
  parentPort!.postMessage({ ok: false, message: err instanceof Error ? err.message : String(err) });
}
