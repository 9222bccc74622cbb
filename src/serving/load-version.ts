/** Turn a complete version folder into a served version: inspect, load everywhere, warm, check. */
import type { InstancePool } from '../inference/pool.js';
import type { BatchEvent } from '../inference/scheduler.js';
import { ServedVersion, type BatchingOptions, type VersionRef } from '../inference/served-version.js';
import { imageClassifier } from '../kinds/image-classifier.js';
import type { LoadRequest } from '../repository/repository.js';

export interface LoadOptions {
  maxBytes: number;
  batching: BatchingOptions;
  onBatch?: (ref: VersionRef, event: BatchEvent) => void;
}

/**
 * Load an image-classifier version into the pool. It serves only after it has run a real
 * (decoded, resized, normalised) image and given probabilities; otherwise it is disposed and
 * the error says why.
 */
export async function loadImageClassifier(request: LoadRequest, pool: InstancePool, opts: LoadOptions): Promise<ServedVersion> {
  const kind = imageClassifier;
  const metadata = await kind.inspect(request.dir, opts.maxBytes);
  const ref: VersionRef = { name: request.name, version: request.version, revision: request.revision };
  const served = await ServedVersion.load(ref, request.dir, metadata, pool, opts.batching, opts.onBatch && ((e) => opts.onBatch?.(ref, e)));
  try {
    const [output] = await served.classify([await kind.sampleInput(metadata)]);
    kind.checkOutput(metadata, output!);
    return served;
  } catch (err) {
    await served.dispose();
    throw new Error(`the check on a sample image failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}
