/** Every problem type the server can answer with is in the docs' table of errors (docs/native-api.md). */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/app.js';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const path = join(dir, e);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

const PATTERNS = [
  /(?:new ServingError|super)\(\s*'[a-z-]+',\s*'([a-z-]+)'/g,
  /invalidInput\(\s*'([a-z-]+)'/g,
  /unavailable\([^;]*?,\s*\d+,\s*'([a-z-]+)'\)/g,
  /new ProblemError\(\s*\d+,\s*'([a-z-]+)'/g,
  /slug: '([a-z-]+)'/g,
];
/** The image kind's table of image problems: `code: ['<error code>', '<problem type>']`. */
const IMAGE_CODES = /^\s+\w+: \['[a-z-]+', '([a-z-]+)'\],$/gm;

describe('the table of errors', () => {
  it('names every problem type the code answers with', () => {
    const found = new Set<string>(['payload-too-large', 'not-ready']);
    for (const file of sources(join(ROOT, 'src'))) {
      if (file.includes(`${join('src', 'training')}`)) continue;
      const text = readFileSync(file, 'utf8');
      for (const pattern of [...PATTERNS, ...(file.endsWith(join('kinds', 'image', 'errors.ts')) ? [IMAGE_CODES] : [])]) for (const m of text.matchAll(pattern)) found.add(m[1]!);
    }
    expect(found.size).toBeGreaterThan(30);
    const table = readFileSync(join(ROOT, 'docs', 'native-api.md'), 'utf8');
    expect([...found].filter((slug) => !table.includes(`\`${slug}\``)).sort()).toEqual([]);
  });
});
