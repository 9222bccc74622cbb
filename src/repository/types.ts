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
  /** This process recorded a change in a model's config.json (to announce it to the other replicas). */
  onConfigWritten?: (name: string, revision: number) => void;
}

export interface RepositoryOptions {
  /** Seconds between scans of the source; 0 scans only at start (and on admin calls). */
  pollIntervalS: number;
  /** Longest wait between retries while the source cannot be read. */
  maxBackoffS?: number;
  /**
   * A lock shared by every replica, held around each config.json write (Redis, for stores
   * whose conditional writes cannot be relied on); resolves to its release, or undefined when
   * it cannot be had now (the store's own version check still applies).
   */
  configLock?: (name: string) => Promise<(() => Promise<void>) | undefined>;
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
