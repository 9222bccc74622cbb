/** A model instance in a worker thread: its own backend, its own copy of the model. */
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend, type BackendChoice } from './backend.js';
import { ImageClassifier } from './classifier.js';

export type InferenceRequest = { id: number; batch: Float32Array; n: number };
export type InferenceReply =
  | { type: 'ready'; backend: string }
  | { type: 'result'; id: number; probs: Float32Array }
  | { type: 'error'; id: number; message: string };

const { dir, backend, warmupRuns } = workerData as { dir: string; backend: BackendChoice; warmupRuns: number };
const port = parentPort!;
const active = await initBackend(backend);
const model = await ImageClassifier.load(dir, warmupRuns);

port.on('message', (req: InferenceRequest) => {
  model.classifyPacked(req.batch, req.n).then(
    (probs) => port.postMessage({ type: 'result', id: req.id, probs } satisfies InferenceReply, [probs.buffer as ArrayBuffer]),
    (err: unknown) => port.postMessage({ type: 'error', id: req.id, message: err instanceof Error ? err.message : String(err) } satisfies InferenceReply),
  );
});
port.postMessage({ type: 'ready', backend: active } satisfies InferenceReply);
