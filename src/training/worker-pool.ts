/** Data-parallel gradient computation over worker threads, one network replica each. */
import type { Worker } from 'node:worker_threads';
import type { BackendChoice } from '../runtimes/tfjs/backend.js';
import { startWorker } from '../inference/threads.js';
import type { NetworkSpec } from './model.js';
import type { WorkerReply, WorkerRequest } from './protocol.js';

export interface StepResult {
  /** Mean loss over the whole batch. */
  loss: number;
  correct: number;
  /** Gradients of the trainable weights, averaged over the batch. */
  grads: Float32Array[];
  /** All weights after the step as the replicas left them, averaged (moves BatchNorm statistics). */
  weights: Float32Array[];
}

class Replica {
  private pending: ((reply: WorkerReply) => void) | undefined;
  private failure: Error | undefined;

  constructor(readonly worker: Worker) {
    worker.on('message', (reply: WorkerReply) => {
      const resolve = this.pending;
      this.pending = undefined;
      resolve?.(reply);
    });
    worker.on('error', (err) => {
      this.failure = err;
      this.pending?.({ type: 'error', message: err.stack ?? err.message });
    });
  }

  request(req: WorkerRequest | undefined): Promise<WorkerReply> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending = (reply) => (reply.type === 'error' ? reject(new Error(`training worker: ${reply.message}`)) : resolve(reply));
      if (req) this.worker.postMessage(req);
    });
  }
}

function shards(n: number, parts: number): [number, number][] {
  const out: [number, number][] = [];
  for (let p = 0; p < parts; p++) {
    const start = Math.round((p * n) / parts);
    const end = Math.round(((p + 1) * n) / parts);
    if (end > start) out.push([start, end]);
  }
  return out;
}

export class WorkerPool {
  private constructor(
    private readonly replicas: Replica[],
    readonly backend: string,
    private readonly pixelsPerImage: number,
  ) {}

  /** Start `size` workers and wait until each has its backend and network ready. */
  static async create(size: number, spec: NetworkSpec, backend: BackendChoice): Promise<WorkerPool> {
    const replicas = Array.from({ length: size }, () => new Replica(startWorker(import.meta.url, 'grad-worker', { spec, backend })));
    const ready = await Promise.all(replicas.map((r) => r.request(undefined)));
    const first = ready[0];
    return new WorkerPool(replicas, first?.type === 'ready' ? first.backend : 'unknown', spec.inputSize * spec.inputSize * 3);
  }

  get size(): number {
    return this.replicas.length;
  }

  /** One synchronous data-parallel step over `labels.length` images. */
  async step(weights: Float32Array[], images: Float32Array, labels: Int32Array, labelSmoothing: number): Promise<StepResult> {
    const parts = shards(labels.length, this.replicas.length);
    const replies = await Promise.all(
      parts.map(([a, b], i) =>
        this.replicas[i]!.request({
          type: 'step',
          weights,
          images: images.subarray(a * this.pixelsPerImage, b * this.pixelsPerImage),
          labels: labels.subarray(a, b),
          labelSmoothing,
        }),
      ),
    );
    const n = labels.length;
    let loss = 0;
    let correct = 0;
    let grads: Float32Array[] = [];
    let avgWeights: Float32Array[] = [];
    replies.forEach((reply, i) => {
      if (reply.type !== 'step') throw new Error(`unexpected reply ${reply.type}`);
      const [a, b] = parts[i]!;
      const share = (b - a) / n;
      loss += reply.loss * share;
      correct += reply.correct;
      if (i === 0) {
        grads = reply.grads.map((g) => g.map((v) => v * share));
        avgWeights = reply.weights.map((w) => w.map((v) => v * share));
      } else {
        reply.grads.forEach((g, k) => {
          const acc = grads[k]!;
          for (let j = 0; j < g.length; j++) acc[j]! += g[j]! * share;
        });
        reply.weights.forEach((w, k) => {
          const acc = avgWeights[k]!;
          for (let j = 0; j < w.length; j++) acc[j]! += w[j]! * share;
        });
      }
    });
    return { loss, correct, grads, weights: avgWeights };
  }

  /** Predicted class of every image, computed across the workers in chunks. */
  async predict(weights: Float32Array[], images: Float32Array, labels: Int32Array, chunk = 250): Promise<Int32Array> {
    const n = labels.length;
    const out = new Int32Array(n);
    let next = 0;
    await Promise.all(
      this.replicas.map(async (replica) => {
        while (next < n) {
          const a = next;
          const b = Math.min(n, a + chunk);
          next = b;
          const reply = await replica.request({
            type: 'eval',
            weights,
            images: images.subarray(a * this.pixelsPerImage, b * this.pixelsPerImage),
            labels: labels.subarray(a, b),
          });
          if (reply.type !== 'eval') throw new Error(`unexpected reply ${reply.type}`);
          out.set(reply.predictions, a);
        }
      }),
    );
    return out;
  }

  async close(): Promise<void> {
    await Promise.all(this.replicas.map((r) => r.worker.terminate()));
  }
}
