/**
 * Train the spam filter and write it as a new version of the repository.
 *
 *   npm run train:text [-- --data ../shared/datasets/spam-assassin --seed 42 --repository models --name spam --version N]
 *
 * Chooses headers, n-grams, model family and setting by k-fold cross-validation on the
 * training part, reports once on a held-out split (src/training/text/train.ts). Progress is
 * printed as it goes; cross-validation resumes from its checkpoint in .cache/ when rerun.
 */
import { parseArgs } from 'node:util';
import { nextVersion } from '../src/training/tabular.js';
import { DEFAULT_GRID, HEADER_SETS, trainText, writeTextVersion, type Variant } from '../src/training/text/train.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: '../shared/datasets/spam-assassin' },
    seed: { type: 'string', default: '42' },
    repository: { type: 'string', default: 'models' },
    name: { type: 'string', default: 'spam' },
    version: { type: 'string' },
    folds: { type: 'string', default: '5' },
    'max-features': { type: 'string', default: '30000' },
    'min-df': { type: 'string', default: '2' },
    'cache-dir': { type: 'string', default: '.cache/train-text' },
    /** A small grid (one variant per family) for a quick run. */
    quick: { type: 'boolean', default: false },
  },
});

const quickGrid: Variant[] = [
  { headers: HEADER_SETS.all, scope: true, ngrams: 1, model: { family: 'logistic', l2: 1e-6, epochs: 60 } },
  { headers: HEADER_SETS.all, scope: true, ngrams: 1, model: { family: 'bayes', alpha: 0.01 } },
];

const trained = await trainText({
  data: values.data,
  seed: Number(values.seed),
  folds: Number(values.folds),
  testFraction: 0.2,
  calibrationFraction: 0.1,
  maxFeatures: Number(values['max-features']),
  minDf: Number(values['min-df']),
  maxTokens: 20_000,
  maxHamAsSpam: 0.003,
  grid: values.quick ? quickGrid : DEFAULT_GRID,
  command: `npm run train:text${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
  cacheDir: values['cache-dir'],
  log: (line) => console.log(line),
});
const version = values.version ?? (await nextVersion(values.repository, values.name));
const dir = await writeTextVersion(values.repository, values.name, version, trained);
const { whole, body } = trained.metadata.validation as Record<string, { accuracy: number; hamAsSpam: number; confusion: number[][] }>;
console.log(`${values.name} version ${version} → ${dir}`);
console.log(`held out: whole ${(whole!.accuracy * 100).toFixed(2)} %, ham as spam ${(whole!.hamAsSpam * 100).toFixed(2)} %, body only ${(body!.accuracy * 100).toFixed(2)} %; confusion (whole) ${JSON.stringify(whole!.confusion)}`);
