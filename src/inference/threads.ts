/** Worker threads that also start from TypeScript sources (tsx, vitest). */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

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
