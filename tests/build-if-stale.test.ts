/** npm start builds only when an input of the build changed since the last build. */
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isStale, STAMP } from '../scripts/build-if-stale.mjs';

describe('the start script\'s build step', () => {
  it('is stale without a build, fresh after one, and stale again when a source or the config changes', () => {
    const root = mkdtempSync(join(tmpdir(), 'stale-'));
    try {
      mkdirSync(join(root, 'src', 'kinds'), { recursive: true });
      writeFileSync(join(root, 'src', 'kinds', 'a.ts'), 'export {};\n');
      writeFileSync(join(root, 'tsconfig.json'), '{}\n');
      expect(isStale(root)).toBe(true);
      mkdirSync(join(root, 'dist'));
      writeFileSync(join(root, STAMP), 'built\n');
      const at = (path: string, seconds: number): void => utimesSync(join(root, path), seconds, seconds);
      at('src/kinds/a.ts', 1000);
      at('tsconfig.json', 1000);
      at(STAMP, 2000);
      expect(isStale(root)).toBe(false);
      at('src/kinds/a.ts', 3000);
      expect(isStale(root)).toBe(true);
      at(STAMP, 4000);
      expect(isStale(root)).toBe(false);
      at('tsconfig.json', 5000);
      expect(isStale(root)).toBe(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
