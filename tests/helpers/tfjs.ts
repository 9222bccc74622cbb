/** A TF.js image classifier loaded from its version folder, with the shapes its metadata.json gives. */
import { readImageMetadata } from '../../src/kinds/image/metadata.js';
import { TfjsModel } from '../../src/runtimes/tfjs/tfjs-model.js';

export async function loadImageModel(dir: string, warmupRuns = 2): Promise<TfjsModel> {
  const metadata = await readImageMetadata(dir);
  return TfjsModel.load(dir, { inputShape: [...metadata.inputShape], outputs: metadata.labels.length }, warmupRuns);
}
