/**
 * The seam where a model kind plugs in: what its version folder must hold, a real input to
 * check a freshly loaded version with, and what it says about itself. The image classifier
 * is the one kind today; a new kind is a new module implementing this.
 */
import type { ModelSignature } from '../inference/classifier.js';

export interface ModelKind<M> {
  /** The `kind` field of metadata.json. */
  readonly id: string;
  /** Check a version folder (files and metadata) and return its metadata; throws with the reason. */
  inspect(dir: string, maxBytes: number): Promise<M>;
  /** The shapes the model files must have. */
  signature(metadata: M): ModelSignature;
  /** A real input, prepared as requests are, to run once before the version serves. */
  sampleInput(metadata: M): Promise<Float32Array>;
  /** Throws unless `output` is what the model must produce for one input. */
  checkOutput(metadata: M, output: Float32Array): void;
  /** What GET /v1/models/{name} reports about a version. */
  describe(metadata: M): Record<string, unknown>;
}
