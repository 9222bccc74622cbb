/**
 * `npm start`'s build step: compile src/ into dist/ with tsc only when something it is built
 * from changed since the last build (the stamp dist/.build-stamp), so a restart costs about
 * what starting the built server costs. Type checking stays in `npm run typecheck` and CI.
 * Plain JavaScript, so that deciding costs no TypeScript loader.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const STAMP = join('dist', '.build-stamp');
/** What the build reads besides src/. */
const INPUTS = ['tsconfig.json', 'tsconfig.build.json', 'package.json', 'package-lock.json'];

/** The newest modification time (ms) of the build's inputs under `root`. */
export function newestInput(root) {
  let newest = 0;
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  walk(join(root, 'src'));
  for (const file of INPUTS) if (existsSync(join(root, file))) newest = Math.max(newest, statSync(join(root, file)).mtimeMs);
  return newest;
}

/** Whether dist/ is missing or older than an input. */
export function isStale(root) {
  const stamp = join(root, STAMP);
  return !existsSync(stamp) || statSync(stamp).mtimeMs < newestInput(root);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = process.cwd();
  if (process.argv.includes('--stamp')) {
    // `npm run build` has just built dist/: record it.
    writeFileSync(join(root, STAMP), `${new Date().toISOString()}\n`);
  } else if (isStale(root)) {
    const started = Date.now();
    const built = spawnSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });
    if (built.status !== 0) process.exit(built.status ?? 1);
    writeFileSync(join(root, STAMP), `${new Date().toISOString()}\n`);
    console.error(`built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}
