/** Selects the TF.js backend: native TensorFlow when it loads, else WebAssembly (XNNPACK). */
import { setFlagsFromString } from 'node:v8';
import * as tf from '@tensorflow/tfjs';

import type { BackendChoice } from './backend-choice.js';

export { BACKEND_CHOICES, type BackendChoice } from './backend-choice.js';

/** Why the native backend is not in use, when `auto` had to fall back (null otherwise). */
let nativeMissing: string | null = null;
export const nativeBackendMissing = (): string | null => nativeMissing;

async function tryTensorflow(): Promise<boolean> {
  try {
    // Optional dependency: absent where its native library could not be installed.
    await import('@tensorflow/tfjs-node' as string);
    if (await tf.setBackend('tensorflow')) return true;
    nativeMissing = '@tensorflow/tfjs-node is installed but its backend did not initialise';
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    nativeMissing =
      code === 'ERR_MODULE_NOT_FOUND'
        ? '@tensorflow/tfjs-node is not installed (an optional dependency: npm leaves it out where its install script cannot download libtensorflow; the image built with TFJS_NODE=true has it)'
        : `@tensorflow/tfjs-node did not load: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
  }
  return false;
}

async function useWasm(): Promise<boolean> {
  // V8 first compiles WebAssembly with its baseline compiler (Liftoff) and moves hot functions
  // to the optimizing one (TurboFan) over the next seconds: the model ran about 1.6x slower for
  // its first ~5 s after every start. Compile the kernels optimized from the start (~50 ms more
  // at load). The flag is process-wide and read when a module is compiled.
  setFlagsFromString('--no-liftoff');
  await import('@tensorflow/tfjs-backend-wasm');
  return tf.setBackend('wasm');
}

/** Activate the requested backend and return the name of the one in use. */
export async function initBackend(choice: BackendChoice): Promise<string> {
  let ok: boolean;
  switch (choice) {
    case 'tensorflow':
      ok = await tryTensorflow();
      if (!ok) throw new Error('INFERENCE_BACKEND=tensorflow but @tensorflow/tfjs-node could not be loaded');
      break;
    case 'wasm':
      ok = await useWasm();
      break;
    case 'cpu':
      ok = await tf.setBackend('cpu');
      break;
    default:
      ok = (await tryTensorflow()) || (await useWasm());
  }
  if (!ok) throw new Error(`backend ${choice} failed to initialise`);
  await tf.ready();
  return tf.getBackend();
}
