/**
 * Train a shipped tabular model and write it as a new version of the repository.
 *
 *   npm run train:tabular -- iris [--seed 42] [--repository models] [--version N]
 *   npm run train:tabular -- wine-quality [--data ../shared/datasets/wine-quality/winequality-red.csv]
 *
 * Deterministic with a seed (same seed, same weights); takes seconds. The version folder is
 * staged and renamed into place, metadata.json written last.
 */
import { parseArgs } from 'node:util';
import { initBackend } from '../src/runtimes/tfjs/backend.js';
import { RECIPES } from '../src/training/tabular-recipes.js';
import { nextVersion, writeVersion } from '../src/training/tabular.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    seed: { type: 'string', default: '42' },
    repository: { type: 'string', default: 'models' },
    version: { type: 'string' },
    data: { type: 'string' },
    backend: { type: 'string', default: 'cpu' },
  },
});
const name = positionals[0] ?? '';
const recipe = RECIPES[name];
if (!recipe) {
  console.error(`usage: npm run train:tabular -- <${Object.keys(RECIPES).join('|')}> [--seed 42] [--repository models] [--version N]`);
  process.exit(2);
}
// The cpu backend: exact and deterministic, and fast enough for models this small.
await initBackend(values.backend === 'wasm' ? 'wasm' : 'cpu');
const command = `npm run train:tabular -- ${process.argv.slice(2).join(' ')}`;
const trained = await recipe({ seed: Number(values.seed), command, ...(values.data ? { data: values.data } : {}), log: (l) => console.log(l) });
const version = values.version ?? (await nextVersion(values.repository, name));
const dir = await writeVersion(values.repository, name, version, trained.model, trained.metadata);
const v = trained.metadata.validation ?? {};
console.log(`${name} version ${version} → ${dir}: held-out accuracy ${((v.accuracy as number) * 100).toFixed(1)} % on ${String(v.rows)} rows`);
console.log(JSON.stringify(v.confusion));
