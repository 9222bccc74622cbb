/** The automatic memory ceiling of process hosts, from a cgroup limit the test writes. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostMemoryCeilingMb } from '../../src/inference/pool-config.js';

describe('INFERENCE_HOST_MEMORY_MB=auto', () => {
  let dir: string;
  const limit = async (bytes: string): Promise<string> => {
    const file = join(dir, `memory.max-${bytes}`);
    await writeFile(file, `${bytes}\n`);
    return file;
  };
  beforeAll(async () => (dir = await mkdtemp(join(tmpdir(), 'mlapi-cgroup-'))));
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('shares 80 % of a container limit over the hosts', async () => {
    expect(hostMemoryCeilingMb({ INFERENCE_HOST_MEMORY_MB: 'auto', INFERENCE_WORKERS: 2 }, await limit(String(8 * 2 ** 30)))).toBe(3276);
  });

  it('gives each host at least 512 MiB (never less than a healthy host holds), and never more than 80 % of the limit', async () => {
    const gib = await limit(String(2 ** 30));
    expect(hostMemoryCeilingMb({ INFERENCE_HOST_MEMORY_MB: 'auto', INFERENCE_WORKERS: 16 }, gib)).toBe(512);
    expect(hostMemoryCeilingMb({ INFERENCE_HOST_MEMORY_MB: 'auto', INFERENCE_WORKERS: 1 }, gib)).toBe(819);
    expect(hostMemoryCeilingMb({ INFERENCE_HOST_MEMORY_MB: 'auto', INFERENCE_WORKERS: 4 }, await limit(String(512 * 2 ** 20)))).toBe(409);
  });

  it('falls back to the machine where the cgroup has no limit, and takes a set value as it is', async () => {
    expect(hostMemoryCeilingMb({ INFERENCE_HOST_MEMORY_MB: 'auto', INFERENCE_WORKERS: 2 }, await limit('max'))).toBeGreaterThanOrEqual(512);
    expect(hostMemoryCeilingMb({ INFERENCE_HOST_MEMORY_MB: 300, INFERENCE_WORKERS: 2 })).toBe(300);
  });
});
