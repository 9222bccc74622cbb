/** Where model versions come from: a local folder or an S3-compatible store. */
import type { ConfigChange, ModelConfig } from './model-config.js';

/** A complete version as the source sees it. */
export interface SourceVersion {
  version: string;
  /** Changes whenever any of the version's files changes. */
  fingerprint: string;
  /** Set when the source already knows the version cannot be served (hostile keys, too large). */
  problem?: string;
}

export interface SourceModel {
  name: string;
  config: ModelConfig;
  /** Set when config.json is present but invalid; the model keeps its previous policy. */
  configProblem?: string;
  versions: SourceVersion[];
}

/** An entry of the repository that is not a model (a bad name): reported, never loaded. */
export interface RefusedEntry {
  entry: string;
  reason: string;
}

export interface ScanResult {
  models: SourceModel[];
  refused: RefusedEntry[];
}

export interface RepositorySource {
  /** For logs: the folder or s3:// URL. */
  readonly location: string;
  /** Every model with its complete versions; throws when the store cannot be read. */
  scan(): Promise<ScanResult>;
  /** One model, or undefined when it is not in the repository. */
  scanModel(name: string): Promise<SourceModel | undefined>;
  /** A local folder with the version's files, checked and complete. */
  materialize(name: string, version: SourceVersion): Promise<string>;
  /**
   * Change a model's config.json atomically under a version check: a reader sees the old file
   * or the new one, and of two writers that read the same revision one wins and the other
   * gets a ConfigConflictError (or, with no expected revision, applies its change to the new
   * content). Returns the revision written.
   */
  writeConfig(name: string, change: ConfigChange): Promise<number>;
}

/** Whether a MODEL_REPOSITORY names an S3 location (s3://bucket/prefix) rather than a folder. */
export function isS3Url(value: string): boolean {
  return value.startsWith('s3://');
}
