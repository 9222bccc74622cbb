/**
 * Gradient worker for data-parallel training: holds a replica of the network, and for each
 * request loads the given weights, runs forward and backward on its shard of the batch,
 * and returns the gradients and the updated BatchNorm statistics.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendChoice } from '../runtimes/tfjs/backend.js';
import { buildNetworks, type NetworkSpec } from './model.js';
import { installWasmTrainingKernels } from './wasm-kernels.js';
import type { WorkerReply, WorkerRequest } from './protocol.js';

const { spec, backend } = workerData as { spec: NetworkSpec; backend: BackendChoice };
const active = await initBackend(backend);
if (active === 'wasm') installWasmTrainingKernels();
const { model, logits } = buildNetworks(spec);
const trainable = new Set(logits.trainableWeights.map((w) => w.name));
const variables = model.weights.filter((w) => trainable.has(w.name)).map((w) => (w as unknown as { val: tf.Variable }).val);
const port = parentPort!;

function setWeights(weights: Float32Array[]): void {
  tf.tidy(() => model.setWeights(model.weights.map((w, i) => tf.tensor(weights[i]!, w.shape as number[]))));
}

async function step(req: Extract<WorkerRequest, { type: 'step' }>): Promise<WorkerReply> {
  setWeights(req.weights);
  const n = req.labels.length;
  const x = tf.tensor4d(req.images, [n, spec.inputSize, spec.inputSize, 3]);
  const y = tf.oneHot(tf.tensor1d(req.labels, 'int32'), spec.numClasses);
  let out: tf.Tensor | undefined;
  const { value, grads } = tf.variableGrads(() => {
    out = logits.apply(x, { training: true }) as tf.Tensor;
    tf.keep(out);
    return tf.losses.softmaxCrossEntropy(y, out, undefined, req.labelSmoothing) as tf.Scalar;
  }, variables);
  const correct = tf.tidy(() => tf.equal(tf.argMax(out!, 1), tf.argMax(y, 1)).sum());
  // Copies, so that transferring them never detaches a backend's own storage.
  const gradArrays = await Promise.all(variables.map(async (v) => ((await grads[v.name]!.data()) as Float32Array).slice()));
  const reply: WorkerReply = {
    type: 'step',
    loss: (await value.data())[0]!,
    correct: (await correct.data())[0]!,
    grads: gradArrays,
    weights: await Promise.all(model.weights.map(async (w) => ((await w.read().data()) as Float32Array).slice())),
  };
  tf.dispose([x, y, out!, value, correct, ...Object.values(grads)]);
  return reply;
}

async function evaluate(req: Extract<WorkerRequest, { type: 'eval' }>): Promise<WorkerReply> {
  setWeights(req.weights);
  const n = req.labels.length;
  const probs = tf.tidy(() => model.predict(tf.tensor4d(req.images, [n, spec.inputSize, spec.inputSize, 3])) as tf.Tensor);
  const predicted = tf.tidy(() => tf.argMax(probs, 1));
  const pred = (await predicted.data()) as Int32Array;
  tf.dispose([probs, predicted]);
  let correct = 0;
  for (let i = 0; i < n; i++) if (pred[i] === req.labels[i]) correct++;
  return { type: 'eval', correct, predictions: pred };
}

port.on('message', (req: WorkerRequest) => {
  const run = req.type === 'step' ? step(req) : evaluate(req);
  run.then(
    (reply) => port.postMessage(reply, reply.type === 'step' ? [...reply.grads, ...reply.weights].map((a) => a.buffer as ArrayBuffer) : []),
    (err: unknown) => port.postMessage({ type: 'error', message: err instanceof Error ? err.stack ?? err.message : String(err) }),
  );
});
port.postMessage({ type: 'ready', backend: active } satisfies WorkerReply);
