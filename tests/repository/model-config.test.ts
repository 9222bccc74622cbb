import { describe, expect, it } from 'vitest';
import { isModelName, isVersion } from '../../src/repository/names.js';
import { parseModelConfig, selectVersions } from '../../src/repository/model-config.js';
import { isContainedPath } from '../../src/repository/version-files.js';

describe('version policy', () => {
  const present = ['1', '10', '2', '3'];

  it('latest, specific and all select as Triton and TF Serving do, numerically', () => {
    expect(selectVersions({ latest: { num_versions: 1 } }, present)).toEqual(['10']);
    expect(selectVersions({ latest: { num_versions: 2 } }, present)).toEqual(['10', '3']);
    expect(selectVersions({ specific: { versions: ['1', '3', '7'] } }, present)).toEqual(['3', '1']);
    expect(selectVersions({ all: {} }, present)).toEqual(['10', '3', '2', '1']);
    expect(selectVersions({ latest: { num_versions: 1 } }, [])).toEqual([]);
  });

  it('parses config.json with the default policy, and says what is wrong with a bad one', () => {
    expect(parseModelConfig('{}')).toEqual({ version_policy: { latest: { num_versions: 1 } } });
    expect(parseModelConfig('{"version_policy": {"specific": {"versions": [1, "3"]}}, "default_version": 3}')).toEqual({
      version_policy: { specific: { versions: ['1', '3'] } },
      default_version: '3',
    });
    expect(() => parseModelConfig('{"version_policy": ')).toThrow(/config.json is not valid JSON/);
    expect(() => parseModelConfig('{"version_policy": {"newest": 1}}')).toThrow(/config.json is invalid/);
    expect(() => parseModelConfig('{"default_version": "../1"}')).toThrow(/a version must be a positive integer/);
    expect(() => parseModelConfig('{"extra": true}')).toThrow(/config.json is invalid/);
  });
});

describe('names and paths', () => {
  it('accepts plain model names and versions only', () => {
    for (const ok of ['cifar10', 'iris-v2', 'wine_quality', 'a.b', 'A1']) expect(isModelName(ok), ok).toBe(true);
    for (const bad of ['', '.', '..', '.hidden', 'a..b', 'a/b', 'a\\b', 'a\0b', 'é', 'x'.repeat(65), '-lead', 'with space']) expect(isModelName(bad), bad).toBe(false);
    for (const ok of ['1', '42', '999999999']) expect(isVersion(ok), ok).toBe(true);
    for (const bad of ['0', '01', '-1', '1.0', '1e3', '', '1234567890', '..']) expect(isVersion(bad), bad).toBe(false);
  });

  it('keeps weight paths inside their folder', () => {
    for (const ok of ['group1-shard1of1.bin', 'weights/shard.bin', 'a/./b', 'a//b']) expect(isContainedPath(ok), ok).toBe(true);
    for (const bad of ['../x', '../../etc/passwd', '/etc/passwd', 'a/../../x', 'a\\..\\b', 'a\0b', '', '.']) expect(isContainedPath(bad), bad).toBe(false);
  });
});
