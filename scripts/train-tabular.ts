/**
 * Train a shipped tabular model and write it as a new version of the repository.
 *
 *   npm run train:tabular -- iris [--seed 42] [--repository models] [--version N]
 *   npm run train:tabular -- wine-quality [--data ../shared/datasets/wine-quality/winequality-red.csv] [--folds 5]
 *
 * Cross-validation on the training part chooses the model (progress printed per fit, and
 * checkpointed in .cache/train-tabular so a rerun resumes); the held-out split is read once.
 * Deterministic with a seed (same seed, same weights); takes seconds. The version folder is
 * staged and renamed into place, metadata.json written last.
 */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend } from '../src/runtimes/tfjs/backend.js';
import { RECIPES } from '../src/training/tabular-recipes.js';
import { nextVersion, SPLITS_FILE, writeVersion } from '../src/training/tabular.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    seed: { type: 'string', default: '42' },
    repository: { type: 'string', default: 'models' },
    version: { type: 'string' },
    data: { type: 'string' },
    backend: { type: 'string', default: 'cpu' },
    folds: { type: 'string', default: '5' },
    'cache-dir': { type: 'string', default: '.cache/train-tabular' },
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
// Cross-validation is checkpointed per fit under --cache-dir: a rerun with the same data, seed and folds resumes.
const dataStamp = values.data ? `${(await stat(values.data)).size}-${(await stat(values.data)).mtimeMs}` : 'default';
const fingerprint = createHash('sha256').update(JSON.stringify({ name, seed: values.seed, folds: values.folds, data: values.data ?? null, dataStamp })).digest('hex').slice(0, 16);
const trained = await recipe({
  seed: Number(values.seed),
  command,
  folds: Number(values.folds),
  checkpoint: join(values['cache-dir'], `${name}-cv-${fingerprint}.json`),
  ...(values.data ? { data: values.data } : {}),
  log: (l) => console.log(l),
});
const version = values.version ?? (await nextVersion(values.repository, name));
const dir = await writeVersion(values.repository, name, version, trained);
const v = trained.metadata.validation ?? {};
console.log(`${name} version ${version} → ${dir}: held-out accuracy ${((v.accuracy as number) * 100).toFixed(1)} % on ${String(v.rows)} rows; splits in ${join(dir, SPLITS_FILE)}`);
console.log(JSON.stringify(v.confusion));
