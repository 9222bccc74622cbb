/** Messages between the training coordinator and its gradient workers. */
export type WorkerRequest =
  | { type: 'step'; weights: Float32Array[]; images: Float32Array; labels: Int32Array; labelSmoothing: number }
  | { type: 'eval'; weights: Float32Array[]; images: Float32Array; labels: Int32Array };

export type WorkerReply =
  | { type: 'ready'; backend: string }
  | { type: 'step'; loss: number; correct: number; grads: Float32Array[]; weights: Float32Array[] }
  | { type: 'eval'; correct: number; predictions: Int32Array }
  | { type: 'error'; message: string };
