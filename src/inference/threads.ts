/** Inference hosts' threads and processes, started from the built files or from TypeScript sources (tsx, vitest). */
import { fork, type ChildProcess } from 'node:child_process';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

/** The environment variable a process host reads its options from. */
export const HOST_OPTIONS_ENV = 'MLAPI_HOST_OPTIONS';

/**
 * Start the worker module `name` (without extension) next to `importerUrl`. From `.ts`
 * sources the worker first registers tsx's loader, which it does not inherit.
 */
export function startWorker(importerUrl: string, name: string, workerData: unknown): Worker {
  const ext = extname(fileURLToPath(importerUrl));
  const url = new URL(`./${name}${ext}`, importerUrl);
  if (ext !== '.ts') return new Worker(url, { workerData });
  const api = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(boot, { eval: true, workerData });
}

/**
 * Start the module `name` next to `importerUrl` as a child process with an IPC channel that
 * carries typed arrays (advanced serialization), its options in HOST_OPTIONS_ENV. It runs
 * without the server's Node.js flags; from `.ts` sources, under tsx.
 */
export function startProcess(importerUrl: string, name: string, options: unknown): ChildProcess {
  const ext = extname(fileURLToPath(importerUrl));
  const file = fileURLToPath(new URL(`./${name}${ext}`, importerUrl));
  return fork(file, [], {
    execArgv: ext === '.ts' ? ['--import', 'tsx'] : [],
    env: { ...process.env, [HOST_OPTIONS_ENV]: JSON.stringify(options) },
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}
