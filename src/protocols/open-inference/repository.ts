/**
 * The model repository extension of the Open Inference Protocol, for REST and gRPC alike:
 * the index of every version with Triton's state names, and load and unload answered once the
 * repository has done them. Fastify-free.
 */
import type { ServedVersion } from '../../inference/served-version.js';
import type { ModelRepository } from '../../repository/repository.js';
import type { VersionState } from '../../repository/types.js';
import { invalidInput } from '../../serving/errors.js';

export type IndexState = 'READY' | 'LOADING' | 'UNLOADING' | 'UNAVAILABLE';

/** Triton's model states: a version either serves (READY) or says why not. */
const STATES: Record<VersionState, IndexState> = {
  AVAILABLE: 'READY',
  LOADING: 'LOADING',
  UNLOADING: 'UNLOADING',
  FAILED: 'UNAVAILABLE',
};

export interface IndexEntry {
  name: string;
  version?: string;
  state: IndexState;
  reason?: string;
}

/** Every model version with its state (a model without versions as one UNAVAILABLE entry); `ready` keeps only READY (true) or the others (false). */
export function repositoryIndex(repo: ModelRepository<ServedVersion>, ready?: boolean): IndexEntry[] {
  const index = repo.list().flatMap((m): IndexEntry[] => {
    if (m.versions.length === 0) return [{ name: m.name, state: 'UNAVAILABLE', reason: repo.isUnloaded(m.name) ? 'unloaded' : 'no version to serve' }];
    return m.versions.map((v) => ({ name: m.name, version: v.version, state: STATES[v.state], ...(v.reason ? { reason: v.reason } : {}) }));
  });
  return ready === undefined ? index : index.filter((e) => (e.state === 'READY') === ready);
}

/** Models load as the repository has them: any load or unload parameter is refused, named. */
export function refuseParameters(names: readonly string[]): void {
  if (names.length > 0) throw invalidInput('invalid-request', `load parameters are not supported (got ${names.map((k) => `'${k.slice(0, 64)}'`).join(', ')}); models are loaded from the repository as they are`);
}

/** Load (or reload) a model; resolves with its name once a version serves, else fails with every version's reason. */
export async function loadModel(repo: ModelRepository<ServedVersion>, name: string): Promise<string> {
  const status = await repo.load(name);
  if (!repo.isReady(status.name)) {
    const why = status.versions.map((v) => `version ${v.version} ${v.state.toLowerCase()}${v.reason ? `: ${v.reason}` : ''}`).join('; ') || 'it has no version folder';
    throw invalidInput('load-failed', `failed to load '${status.name}': ${why}`);
  }
  return status.name;
}

/** Unload every version of a model (after requests in flight finish) until the next load; resolves with its name. */
export async function unloadModel(repo: ModelRepository<ServedVersion>, name: string): Promise<string> {
  return (await repo.unload(name)).name;
}
