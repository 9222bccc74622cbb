/** The TF.js backend says why it is not native, once, when `auto` falls back. */
import { describe, expect, it } from 'vitest';
import { initBackend, nativeBackendMissing } from '../../src/runtimes/tfjs/backend.js';

const nativeInstalled = await import('@tensorflow/tfjs-node' as string).then(
  () => true,
  () => false,
);

describe('TF.js backend choice', () => {
  it('falls back to wasm without @tensorflow/tfjs-node and gives the reason', async () => {
    const backend = await initBackend('auto');
    if (nativeInstalled) {
      expect(backend).toBe('tensorflow');
      expect(nativeBackendMissing()).toBeNull();
    } else {
      expect(backend).toBe('wasm');
      expect(nativeBackendMissing()).toMatch(/^@tensorflow\/tfjs-node is not installed \(an optional dependency/);
    }
  });
});
