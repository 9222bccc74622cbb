/** The repository's vocabulary: states, what it loads, what it reports, what a request holds. */
import type { RefusedEntry } from './source.js';

export type VersionState = 'LOADING' | 'AVAILABLE' | 'UNLOADING' | 'FAILED';

/** What the repository serves: anything that can be disposed once it has drained. */
export interface Servable {
  dispose(): Promise<void>;
}

export interface LoadRequest {
  name: string;
  version: string;
  /** A short id of the files' fingerprint. */
  revision: string;
  dir: string;
}

export type Loader<T> = (request: LoadRequest) => Promise<T>;

export interface RepositoryEvents<T> {
  onLoaded?: (name: string, version: string, served: T) => void;
  onLoadFailed?: (name: string, version: string, reason: string) => void;
  onUnloaded?: (name: string, version: string) => void;
  onSourceError?: (err: unknown, retryInS: number) => void;
  onRefused?: (entries: RefusedEntry[]) => void;
  onConfigProblem?: (name: string, problem: string) => void;
}

export interface RepositoryOptions {
  /** Seconds between scans of the source; 0 scans only at start (and on admin calls). */
  pollIntervalS: number;
  /** Longest wait between retries while the source cannot be read. */
  maxBackoffS?: number;
}

export interface VersionStatus {
  version: string;
  state: VersionState;
  reason?: string;
}

export interface ModelStatus {
  name: string;
  /** The version that serves requests naming none, or null while none can. */
  default_version: string | null;
  versions: VersionStatus[];
}

/** A served version held by one request; release it when the request is done. */
export interface Lease<T> {
  readonly value: T;
  readonly name: string;
  readonly version: string;
  release(): void;
}
