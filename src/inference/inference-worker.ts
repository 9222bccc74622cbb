/** A model instance in a worker thread: its own backend, its own copy of the model. */
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend, type BackendChoice } from './backend.js';
import { ImageClassifier } from './classifier.js';

/** What a worker is started with. */
export interface WorkerOptions {
  dir: string;
  backend: BackendChoice;
  warmupRuns: number;
  /** Lower this thread's scheduling priority by so much (0: unchanged). */
  nice: number;
}

export type InferenceRequest = { id: number; batch: Float32Array; n: number };
export type InferenceReply =
  | { type: 'ready'; backend: string }
  | { type: 'result'; id: number; probs: Float32Array }
  | { type: 'error'; id: number; message: string };

const { dir, backend, warmupRuns, nice } = workerData as WorkerOptions;
const port = parentPort!;
// On Linux, niceness is per thread: only this compute thread yields to the event loop and the
// decoding pool when cores are short. Where that is not allowed, run at normal priority.
if (nice > 0) {
  try {
    setPriority(0, nice);
  } catch {
    /* not permitted here */
  }
}
const active = await initBackend(backend);
const model = await ImageClassifier.load(dir, warmupRuns);

port.on('message', (req: InferenceRequest) => {
  model.classifyPacked(req.batch, req.n).then(
    (probs) => port.postMessage({ type: 'result', id: req.id, probs } satisfies InferenceReply, [probs.buffer as ArrayBuffer]),
    (err: unknown) => port.postMessage({ type: 'error', id: req.id, message: err instanceof Error ? err.message : String(err) } satisfies InferenceReply),
  );
});
port.postMessage({ type: 'ready', backend: active } satisfies InferenceReply);
