/**
 * Self-healing start: a tabular version folder that holds a training recipe (train.json) but
 * no weights is trained when it loads, with MODEL_AUTOTRAIN=true, in a worker thread; the
 * trained files go into the folder, or into the cache folder when the folder cannot be written.
 */
import { access, mkdir, readFile, stat, writeFile, rm } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { startWorker } from '../inference/threads.js';
import { isContainedPath } from '../repository/version-files.js';
import type { AutotrainJob } from '../training/autotrain-worker.js';

export const RECIPE_FILE = 'train.json';

const recipeSchema = z
  .object({
    dataset: z.enum(['iris', 'wine-quality']),
    /** For datasets read from a file: a file inside the version folder. */
    data: z.string().refine(isContainedPath, 'a file inside the version folder').optional(),
    family: z.string().max(100).optional(),
    seed: z.number().int().min(0).max(2 ** 31).default(42),
  })
  .strict()
  .refine((r) => r.dataset !== 'wine-quality' || r.data !== undefined, { message: 'wine-quality needs "data": the semicolon-separated file, inside the version folder' });

const exists = (path: string): Promise<boolean> => access(path).then(() => true, () => false);

/** Whether `dir` is a recipe without weights. */
export async function needsTraining(dir: string): Promise<boolean> {
  return (await exists(join(dir, RECIPE_FILE))) && !(await exists(join(dir, 'model.json')));
}

async function writable(dir: string): Promise<boolean> {
  const probe = join(dir, `.write-probe-${process.pid}`);
  try {
    await writeFile(probe, '');
    await rm(probe, { force: true });
    return true;
  } catch {
    return false;
  }
}

/** Train the recipe in `dir`; returns the folder that now holds the version's files. */
export async function autotrain(dir: string, cacheDir: string, id: string): Promise<string> {
  const { size } = await stat(join(dir, RECIPE_FILE));
  if (size > 64 * 1024) throw new Error(`${RECIPE_FILE} is ${size} bytes; the limit is 65536`);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(join(dir, RECIPE_FILE), 'utf8'));
  } catch (err) {
    throw new Error(`${RECIPE_FILE} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const parsed = recipeSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`${RECIPE_FILE} is invalid: ${z.prettifyError(parsed.error).replace(/\n\s*/g, ' ')}`);
  const recipe = parsed.data;
  const out = (await writable(dir)) ? dir : join(cacheDir, 'autotrain', id);
  await mkdir(out, { recursive: true });
  const job: AutotrainJob = { dataset: recipe.dataset, seed: recipe.seed, out, ...(recipe.family ? { family: recipe.family } : {}), ...(recipe.data ? { data: join(dir, recipe.data) } : {}) };
  // The worker module sits in src/training (dist/training when built), with this file's extension.
  const anchor = new URL(`../training/anchor${extname(fileURLToPath(import.meta.url))}`, import.meta.url).href;
  const worker = startWorker(anchor, 'autotrain-worker', job);
  const reply = await new Promise<{ ok: boolean; message?: string }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the training thread exited with code ${code}`)));
  });
  await worker.terminate();
  if (!reply.ok) throw new Error(`training from ${RECIPE_FILE} failed: ${reply.message ?? 'unknown error'}`);
  return out;
}
