/**
 * The seam where a model kind plugs in: what its metadata must agree on, the shapes its
 * model must have, a real input to check a freshly loaded version with, and what it says
 * about itself. The image classifier and the tabular kinds implement it.
 */
import type { ModelSignature } from '../runtimes/tfjs/classifier.js';

export interface ModelKind<M> {
  /** Checks across fields of the (already parsed) metadata; throws with the reason. The runtime checks the model files. */
  check(metadata: M): Promise<void>;
  /** The shapes the model files must have. */
  signature(metadata: M): ModelSignature;
  /** A real input, prepared as requests are, to run once before the version serves. */
  sampleInput(metadata: M): Promise<Float32Array>;
  /** Throws unless `output` is what the model must produce for one input. */
  checkOutput(metadata: M, output: Float32Array): void;
  /** What GET /v1/models/{name} reports about a version. */
  describe(metadata: M): Record<string, unknown>;
}
