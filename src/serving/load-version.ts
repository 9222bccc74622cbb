/** Turn a complete version folder into a served version: inspect, pick its runtime, load everywhere, warm, check. */
import type { InstancePool } from '../inference/pool.js';
import type { BatchEvent } from '../inference/scheduler.js';
import { ServedVersion, type BatchingOptions, type VersionRef } from '../inference/served-version.js';
import { imageClassifier } from '../kinds/image-classifier.js';
import type { ModelKind } from '../kinds/kind.js';
import { isTabular, readAnyMetadata, type AnyMetadata } from '../kinds/metadata.js';
import { tabularModel } from '../kinds/tabular/kind.js';
import type { LoadRequest } from '../repository/repository.js';
import { runtimeSpec, type RuntimeOptions } from '../runtimes/select.js';
import { autotrain, needsTraining, RECIPE_FILE } from './autotrain.js';

export interface LoadOptions {
  maxBytes: number;
  /** Train versions that hold only a recipe (MODEL_AUTOTRAIN). */
  autotrain: boolean;
  cacheDir: string;
  batching: BatchingOptions;
  runtime: RuntimeOptions;
  onBatch?: (ref: VersionRef, event: BatchEvent) => void;
}

async function loadWith<M extends AnyMetadata>(kind: ModelKind<M>, metadata: M, request: LoadRequest, pool: InstancePool, opts: LoadOptions): Promise<ServedVersion> {
  await kind.check(metadata);
  const spec = await runtimeSpec(request.dir, metadata, kind.signature(metadata), opts.maxBytes, opts.runtime);
  const ref: VersionRef = { name: request.name, version: request.version, revision: request.revision };
  const served = await ServedVersion.load(ref, spec, metadata, pool, opts.batching, opts.onBatch && ((e) => opts.onBatch?.(ref, e)));
  try {
    const [output] = await served.classify([await kind.sampleInput(metadata)]);
    kind.checkOutput(metadata, output!);
    return served as unknown as ServedVersion;
  } catch (err) {
    await served.dispose();
    throw new Error(`the check on a sample input failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/**
 * Load a version with the kind its metadata names. It serves only after it has run a real
 * input (an image decoded and normalised like an upload; the training mean row of a tabular
 * model) and given outputs of the right shape and range; otherwise it is disposed and the
 * error says why.
 */
export async function loadVersion(given: LoadRequest, pool: InstancePool, opts: LoadOptions): Promise<ServedVersion> {
  let request = given;
  if (await needsTraining(given.dir)) {
    if (!opts.autotrain) throw new Error(`the version holds a training recipe (${RECIPE_FILE}) but no weights; set MODEL_AUTOTRAIN=true to train it at load`);
    request = { ...given, dir: await autotrain(given.dir, opts.cacheDir, `${given.name}/${given.version}-${given.revision}`) };
  }
  // Read once: it names the kind, which checks the files against it.
  const metadata = await readAnyMetadata(request.dir);
  return isTabular(metadata) ? loadWith(tabularModel, metadata, request, pool, opts) : loadWith(imageClassifier, metadata, request, pool, opts);
}
