/**
 * An inference host: its own backend, and a copy of every model version the pool serves, so
 * one host budget serves all models (a version is loaded into every host). The same module
 * runs as a worker thread (messages over its port) or as a child process (messages over IPC,
 * its options in MLAPI_HOST_OPTIONS): a native fault in a process takes down that process
 * only, and the server replaces it.
 */
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type { BackendChoice } from '../runtimes/tfjs/backend-choice.js';
import { loadModel, type LoadedModel, type ModelSpec } from '../runtimes/runtime.js';
import { currentThreadId } from './thread-cpu.js';
import { HOST_OPTIONS_ENV } from './threads.js';

/** What a worker is started with. */
export interface WorkerOptions {
  backend: BackendChoice;
  /** Lower this thread's scheduling priority by so much (0: unchanged). */
  nice: number;
}

export type WorkerRequest =
  | { type: 'load'; id: number; key: string; spec: ModelSpec; warmupRuns: number }
  | { type: 'unload'; key: string }
  | { type: 'run'; id: number; key: string; batch: Float32Array; n: number }
  /** End the thread between tasks: stop frees every model first; crash (tests) exits as a fault would. */
  | { type: 'stop' }
  | { type: 'crash' };

export type WorkerReply =
  /** tid: a thread host's kernel id, for its CPU time (null for a process host, or where there is no /proc). */
  /** backend: TF.js's, once a TF.js model is loaded (a host loads TF.js only then; null before). */
  | { type: 'ready'; backend: string | null; nativeMissing: string | null; tid: number | null }
  | { type: 'loaded'; id: number; backend: string | null; nativeMissing: string | null }
  | { type: 'result'; id: number; probs: Float32Array }
  | { type: 'error'; id: number; message: string };

const inProcess = parentPort === null;
const { backend, nice } = (inProcess ? JSON.parse(process.env[HOST_OPTIONS_ENV] ?? '{}') : workerData) as WorkerOptions;
const port = {
  postMessage: (reply: WorkerReply, transfer?: ArrayBuffer[]): void => {
    if (parentPort) parentPort.postMessage(reply, transfer ?? []);
    else process.send?.(reply);
  },
  on: (listener: (req: WorkerRequest) => void): void => {
    if (parentPort) parentPort.on('message', listener);
    else process.on('message', listener as (message: unknown) => void);
  },
};
// A process host whose server has gone (its IPC channel closed) ends too.
if (inProcess) process.on('disconnect', () => process.exit(0));
// On Linux, niceness is per thread: only this compute thread yields to the event loop and the
// decoding pool when cores are short. Where that is not allowed, run at normal priority.
if (nice > 0) {
  try {
    setPriority(0, nice);
  } catch {
    /* not permitted here */
  }
}
// TF.js (about 55 MB and half a second) is loaded only when a TF.js model is: a host of ONNX
// models never holds it. ONNX Runtime is loaded by its first model, as runtime.ts imports it.
let tfjs: Promise<{ backend: string; nativeMissing: string | null }> | undefined;
const ensureTfjs = (): Promise<{ backend: string; nativeMissing: string | null }> =>
  (tfjs ??= import('../runtimes/tfjs/backend.js').then(async (b) => ({ backend: await b.initBackend(backend), nativeMissing: b.nativeBackendMissing() })));
const loaded = async (): Promise<{ backend: string | null; nativeMissing: string | null }> => (await tfjs?.catch(() => undefined)) ?? { backend: null, nativeMissing: null };
const models = new Map<string, LoadedModel>();

const fail = (id: number, err: unknown): void => port.postMessage({ type: 'error', id, message: err instanceof Error ? err.message : String(err) } satisfies WorkerReply);

port.on((req: WorkerRequest) => {
  // Messages are handled between tasks, never inside a native call: a thread ended from
  // outside (Worker.terminate) while ONNX Runtime is computing aborts the whole process.
  if (req.type === 'stop') {
    for (const model of models.values()) model.dispose();
    models.clear();
    process.exit(0);
  } else if (req.type === 'crash') {
    process.exit(70);
  } else if (req.type === 'load') {
    (req.spec.runtime === 'tfjs' ? ensureTfjs() : Promise.resolve())
      .then(() => loadModel(req.spec, req.warmupRuns))
      .then(async (model) => {
        models.get(req.key)?.dispose();
        models.set(req.key, model);
        port.postMessage({ type: 'loaded', id: req.id, ...(await loaded()) } satisfies WorkerReply);
      })
      .catch((err: unknown) => fail(req.id, err));
  } else if (req.type === 'unload') {
    models.get(req.key)?.dispose();
    models.delete(req.key);
    // Where the process runs with --expose-gc (npm run load-cycles), collect now, so RSS
    // shows what the thread still holds rather than garbage not yet collected.
    (globalThis as { gc?: () => void }).gc?.();
  } else {
    const model = models.get(req.key);
    if (!model) return fail(req.id, new Error(`model ${req.key} is not loaded in this thread`));
    model.run(req.batch, req.n).then(
      (probs) => port.postMessage({ type: 'result', id: req.id, probs } satisfies WorkerReply, [probs.buffer as ArrayBuffer]),
      (err: unknown) => fail(req.id, err),
    );
  }
});
port.postMessage({ type: 'ready', backend: null, nativeMissing: null, tid: inProcess ? null : currentThreadId() } satisfies WorkerReply);
