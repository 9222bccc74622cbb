/** The model kinds, by the `kind` in metadata.json. */
import { imageClassifier } from './image-classifier.js';
import { isTabular, type AnyMetadata } from './metadata.js';
import { tabularModel } from './tabular/kind.js';

/** What GET /v1/models/{name} reports about a version of any kind. */
export function describeMetadata(metadata: AnyMetadata): Record<string, unknown> {
  return isTabular(metadata) ? tabularModel.describe(metadata) : imageClassifier.describe(metadata);
}
