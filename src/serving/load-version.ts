/** Turn a complete version folder into a served version: read its kind, pick its runtime, load everywhere, warm, check. */
import type { InstancePool } from '../inference/pool.js';
import type { BatchEvent } from '../inference/scheduler.js';
import { ServedVersion, type BatchingOptions, type VersionRef } from '../inference/served-version.js';
import type { KindRegistry } from '../kinds/index.js';
import type { InputLimits } from '../kinds/kind.js';
import type { LoadRequest } from '../repository/repository.js';
import { readEvaluation } from '../evaluation/read.js';
import { runtimeSpec, type RuntimeOptions } from '../runtimes/select.js';
import { autotrain, needsTraining, RECIPE_FILE } from './autotrain.js';

export interface LoadOptions {
  kinds: KindRegistry;
  limits: InputLimits;
  maxBytes: number;
  /** Train versions that hold only a recipe (MODEL_AUTOTRAIN). */
  autotrain: boolean;
  cacheDir: string;
  batching: BatchingOptions;
  runtime: RuntimeOptions;
  onBatch?: (ref: VersionRef, event: BatchEvent) => void;
}

/**
 * Load a version with the kind its metadata names. It serves only after it has run a real
 * input (its kind's sample: an image decoded and normalised like an upload, the training mean
 * row) and given outputs of the right shape and range; otherwise it is disposed and the error
 * says why.
 */
export async function loadVersion(given: LoadRequest, pool: InstancePool, opts: LoadOptions): Promise<ServedVersion> {
  let request = given;
  if (await needsTraining(given.dir)) {
    if (!opts.autotrain) throw new Error(`the version holds a training recipe (${RECIPE_FILE}) but no weights; set MODEL_AUTOTRAIN=true to train it at load`);
    request = { ...given, dir: await autotrain(given.dir, opts.cacheDir, `${given.name}/${given.version}-${given.revision}`) };
  }
  // Read once: it names the kind, which checks the files against it.
  const kind = await opts.kinds.open(request.dir, { name: request.name, dir: request.dir, limits: opts.limits });
  const spec = await runtimeSpec(request.dir, kind.runtime, kind.signature, opts.maxBytes, opts.runtime);
  const evaluation = await readEvaluation(request.dir);
  const ref: VersionRef = { name: request.name, version: request.version, revision: request.revision };
  const served = await ServedVersion.load(ref, spec, kind, pool, opts.batching, opts.onBatch && ((e) => opts.onBatch?.(ref, e)));
  served.evaluation = evaluation;
  try {
    const [output] = await served.run([await kind.sampleInput()]);
    kind.checkOutput(output!);
    return served;
  } catch (err) {
    await served.dispose();
    throw new Error(`the check on a sample input failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}
