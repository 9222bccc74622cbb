import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

describe('config', () => {
  it('has documented defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      PORT: 8000,
      HOST: '0.0.0.0',
      MODEL_REPOSITORY: 'models',
      DEFAULT_MODEL: 'cifar10',
      MODEL_POLL_INTERVAL_S: 10,
      MODEL_MAX_BYTES: 512 * 1024 * 1024,
      INFERENCE_BACKEND: 'auto',
      MAX_UPLOAD_BYTES: 10 * 1024 * 1024,
      MAX_INPUT_PIXELS: 25_000_000,
      MAX_BATCH_FILES: 32,
      SHUTDOWN_TIMEOUT_MS: 10_000,
    });
  });

  it('coerces strings from the environment', () => {
    const c = loadConfig({ PORT: '9000', MAX_BATCH_FILES: '8', DOCS_ENABLED: 'false', INFERENCE_BACKEND: 'wasm' });
    expect(c.PORT).toBe(9000);
    expect(c.MAX_BATCH_FILES).toBe(8);
    expect(c.DOCS_ENABLED).toBe(false);
    expect(c.INFERENCE_BACKEND).toBe('wasm');
  });

  it('names every invalid variable', () => {
    expect(() => loadConfig({ PORT: '70000', INFERENCE_BACKEND: 'gpu', LOG_LEVEL: 'loud' })).toThrow(ConfigError);
    try {
      loadConfig({ PORT: '70000', INFERENCE_BACKEND: 'gpu', LOG_LEVEL: 'loud' });
    } catch (err) {
      const msg = (err as Error).message;
      expect(msg).toMatch(/PORT/);
      expect(msg).toMatch(/INFERENCE_BACKEND/);
      expect(msg).toMatch(/LOG_LEVEL/);
    }
  });
});

describe('config errors name the variable, in one line each', () => {
  const message = (env: Record<string, string>): string => {
    try {
      loadConfig(env);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error('no error');
  };

  it('refuses short API keys, a missing key file, short admin keys and the retired MODEL_DIR', () => {
    expect(message({ API_KEYS: 'short' })).toMatch(/^ {2}API_KEYS: 1 API key\(s\) shorter than 16 characters$/m);
    expect(message({ API_KEYS_FILE: '/nonexistent/keys.txt' })).toMatch(/^ {2}API_KEYS_FILE: no such file or directory, open '\/nonexistent\/keys.txt'$/m);
    expect(message({ ADMIN_API_KEYS: 'tiny' })).toMatch(/^ {2}ADMIN_API_KEYS: /m);
    expect(message({ MODEL_DIR: 'models/cifar10' })).toMatch(/MODEL_DIR: replaced by MODEL_REPOSITORY/);
    expect(message({ DEFAULT_MODEL: '../etc' })).toMatch(/DEFAULT_MODEL/);
    expect(message({ MODEL_POLL_INTERVAL_S: '-1' })).toMatch(/MODEL_POLL_INTERVAL_S/);
  });
});

describe('.env.example', () => {
  it('lists every variable with a valid default', async () => {
    const { readFileSync } = await import('node:fs');
    const { configSchema } = await import('../src/config.js');
    const lines = readFileSync(new URL('../.env.example', import.meta.url), 'utf8').split('\n');
    const env = Object.fromEntries(lines.filter((l) => /^[A-Z][A-Z0-9_]*=/.test(l)).map((l) => l.split('=') as [string, string]));
    expect(Object.keys(env).sort()).toEqual(Object.keys(configSchema.shape).sort());
    expect(loadConfig(env)).toEqual(loadConfig({}));
  });
});
