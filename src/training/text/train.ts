/**
 * Train the spam filter: a linear model over the text pipeline's tf-idf features.
 *
 *   1. Hold out `testFraction` of every folder (seeded): the test split, read once, at the end;
 *      and `calibrationFraction` of every folder of the rest: the split the confidence
 *      temperature is fitted on.
 *   2. On the rest, k-fold cross-validation (stratified, seeded) compares every variant of the
 *      grid: which headers the text holds, word n-grams, the model family and its setting.
 *      Each fold fits its own vocabulary and idf on its training part. Every message counts
 *      twice, whole and body only (the body as a client sends it, without headers), so that
 *      the model serves both.
 *   3. The variant with the best mean cross-validated accuracy (whole and body alike) wins; its
 *      out-of-fold scores choose the decision threshold (a shift toward ham) that keeps ham
 *      marked as spam at most `maxHamAsSpam`.
 *   4. The chosen variant is trained on the whole training part, its temperature fitted on the
 *      calibration split, and it is scored once on the test split: accuracy (with a bootstrap
 *      interval), spam precision and recall, ham marked as spam, confusion matrices, and the
 *      expected calibration error before and after the temperature.
 *
 * Deterministic for a seed. Cross-validation results are checkpointed after every fold in
 * `cacheDir`, so an interrupted run resumes where it stopped.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exportLinearSoftmax } from '../../runtimes/onnx/export.js';
import { seededRandom } from '../../random.js';
import { ServingError } from '../../serving/errors.js';
import type { TextMetadata, TextPipelineSpec } from '../../kinds/text/metadata.js';
import { extractText, featuresOf, ngrams, tokenize, type Token } from '../../kinds/text/pipeline.js';
import { vocabularyOf, type Vocabulary } from '../../kinds/text/vocabulary.js';
import { accuracyInterval, calibrate, mean, roundedInterval, spread, stratifiedFolds, type Interval, type SplitRecord } from '../evaluation.js';
import { shuffled, SPLITS_FILE } from '../tabular.js';
import { bodyOf, readCorpus, SPAM_LABELS, type Message } from './corpus.js';
import { scores, shifted, trainLinear, type Example, type Family, type LinearModel } from './linear.js';

/** One point of the grid. */
export interface Variant {
  headers: string[];
  /** Header words apart from body words (pipeline email.scopeHeaders). */
  scope: boolean;
  ngrams: number;
  model: Family;
}

export interface TextTrainOptions {
  data: string;
  seed: number;
  folds: number;
  testFraction: number;
  /** Of the rest, per folder: the split the temperature is fitted on. */
  calibrationFraction: number;
  maxFeatures: number;
  /** Terms in fewer training documents are left out of the vocabulary. */
  minDf: number;
  maxTokens: number;
  /** Ham marked as spam that the threshold allows, out of fold (a share). */
  maxHamAsSpam: number;
  grid: Variant[];
  command: string;
  cacheDir: string;
  log: (line: string) => void;
}

export const HEADER_SETS = {
  /** Only the subject line. */
  subject: ['subject'],
  /** Every header field of the message. */
  all: ['*'],
} satisfies Record<string, string[]>;

const logistic = (l2: number): Family => ({ family: 'logistic', l2, epochs: 200 });

export const DEFAULT_GRID: Variant[] = [
  { headers: HEADER_SETS.subject, scope: false, ngrams: 1, model: logistic(1e-6) },
  ...[false, true].flatMap((scope) =>
    [1, 2].flatMap((ngrams) => [
      { headers: HEADER_SETS.all, scope, ngrams, model: logistic(1e-6) },
      { headers: HEADER_SETS.all, scope, ngrams, model: { family: 'bayes', alpha: 0.01 } as Family },
    ]),
  ),
];

export function pipelineSpec(variant: Pick<Variant, 'headers' | 'ngrams' | 'scope'>, opts: { maxTokens: number; size: number }): TextPipelineSpec {
  return {
    email: { read: 'detect', headers: variant.headers, scopeHeaders: variant.scope, maxNesting: 16, maxParts: 1000 },
    html: { maxDepth: 256 },
    normalization: { unicode: 'NFKC', lowercase: true },
    tokenizer: { type: 'words', maxTokens: opts.maxTokens },
    features: { ngrams: variant.ngrams, weighting: 'tfidf', sublinearTf: true, norm: 'l2', vocabulary: 'vocabulary.json', size: opts.size },
  };
}

const describeModel = (m: Family): string => (m.family === 'logistic' ? `logistic l2=${m.l2} epochs=${m.epochs}` : `bayes alpha=${m.alpha}`);
/** How a variant reads a message (its header lines, scoped or not): documents are read once per reading. */
type Reading = Pick<Variant, 'headers' | 'scope'>;
const readingKey = (v: Reading): string => `${v.headers.join(',')}${v.scope ? ' scoped' : ''}`;
const keyOf = (v: Variant): string => `${readingKey(v)}|n${v.ngrams}|${describeModel(v.model)}`;

/** A message read both ways: its tokens whole, and its body's tokens. */
interface Document {
  message: Message;
  whole: Token[];
  body: Token[];
}

/** The largest text the trainer reads from one message (the server's default MAX_TEXT_BYTES). */
const TRAIN_TEXT_BYTES = 512 * 1024;

async function tokensOf(input: Parameters<typeof extractText>[0], spec: TextPipelineSpec): Promise<Token[] | undefined> {
  try {
    const { text, headerEnd } = await extractText(input, spec, TRAIN_TEXT_BYTES);
    return tokenize(text, spec, headerEnd).tokens;
  } catch (err) {
    if (err instanceof ServingError) return undefined;
    throw err;
  }
}

async function readDocuments(messages: readonly Message[], reading: Reading, opts: TextTrainOptions): Promise<Document[]> {
  const spec = pipelineSpec({ ...reading, ngrams: 1 }, { maxTokens: opts.maxTokens, size: 1 });
  const docs: Document[] = [];
  let refused = 0;
  for (const [i, message] of messages.entries()) {
    const whole = await tokensOf({ email: message.bytes }, spec);
    const body = await tokensOf({ text: bodyOf(message.bytes) }, spec);
    if (!whole || !body) refused++;
    docs.push({ message, whole: whole ?? [], body: body ?? [] });
    if ((i + 1) % 1000 === 0 || i + 1 === messages.length) opts.log(`  read ${i + 1}/${messages.length} messages (headers: ${readingKey(reading)})${refused ? `, ${refused} refused by the pipeline` : ''}`);
  }
  return docs;
}

/** Vocabulary of the documents: terms in at least `minDf` of them, the `maxFeatures` most frequent; smoothed idf. */
export function fitVocabulary(docs: readonly Token[][], n: number, opts: { minDf: number; maxFeatures: number }): Vocabulary {
  const df = new Map<string, number>();
  for (const tokens of docs) {
    const seen = new Set<string>();
    for (const gram of ngrams(tokens, n)) seen.add(gram.term);
    for (const term of seen) df.set(term, (df.get(term) ?? 0) + 1);
  }
  const kept = [...df].filter(([, count]) => count >= opts.minDf).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const terms = kept.slice(0, opts.maxFeatures);
  const total = docs.length;
  return vocabularyOf(
    terms.map(([t]) => t),
    // Rounded as the vocabulary file stores them: training and serving weigh with the same numbers.
    terms.map(([, count]) => Math.round((Math.log((1 + total) / (1 + count)) + 1) * 1e6) / 1e6),
  );
}

function examplesOf(tokens: readonly Token[][], labels: readonly number[], vocabulary: Vocabulary, spec: TextPipelineSpec): Example[] {
  return tokens.map((t, i) => ({ x: featuresOf(t, vocabulary.index, vocabulary.idf, spec).vector, y: labels[i]! }));
}

/** The vocabulary fitted on `docs`, its pipeline, and their training examples: every message counted whole and body only. */
function fitDocuments(docs: readonly Document[], variant: Pick<Variant, 'headers' | 'scope' | 'ngrams'>, opts: TextTrainOptions): { vocabulary: Vocabulary; spec: TextPipelineSpec; examples: Example[] } {
  const tokens = docs.flatMap((d) => [d.whole, d.body]);
  const vocabulary = fitVocabulary(tokens, variant.ngrams, opts);
  const spec = pipelineSpec(variant, { maxTokens: opts.maxTokens, size: vocabulary.terms.length });
  const labels = docs.flatMap((d) => [d.message.label, d.message.label]);
  return { vocabulary, spec, examples: examplesOf(tokens, labels, vocabulary, spec) };
}

/** Examples to score `docs` on, whole and body only, with their labels. */
function heldExamples(docs: readonly Document[], vocabulary: Vocabulary, spec: TextPipelineSpec): { labels: number[]; whole: Example[]; body: Example[] } {
  const labels = docs.map((d) => d.message.label);
  return {
    labels,
    whole: examplesOf(
      docs.map((d) => d.whole),
      labels,
      vocabulary,
      spec,
    ),
    body: examplesOf(
      docs.map((d) => d.body),
      labels,
      vocabulary,
      spec,
    ),
  };
}

/** Spam score margins (z_spam − z_ham): the decision is spam when margin + shift > 0. */
const margin = (model: LinearModel, e: Example): number => {
  const z = scores(model, e.x);
  return z[1]! - z[0]!;
};

export interface Metrics {
  messages: number;
  accuracy: number;
  spamPrecision: number;
  spamRecall: number;
  hamAsSpam: number;
  /** [actual][predicted], in label order (ham, spam). */
  confusion: number[][];
}

export function metricsOf(labels: readonly number[], margins: readonly number[], shift: number): Metrics {
  const confusion = [
    [0, 0],
    [0, 0],
  ];
  labels.forEach((y, i) => confusion[y]![margins[i]! + shift > 0 ? 1 : 0]!++);
  const [[tn, fp], [fn, tp]] = confusion as [[number, number], [number, number]];
  const r = (v: number): number => Math.round(v * 1e5) / 1e5;
  return {
    messages: labels.length,
    accuracy: r((tp + tn) / labels.length),
    spamPrecision: r(tp + fp === 0 ? 1 : tp / (tp + fp)),
    spamRecall: r(tp + fn === 0 ? 1 : tp / (tp + fn)),
    hamAsSpam: r(tn + fp === 0 ? 0 : fp / (tn + fp)),
    confusion,
  };
}

/** Hold out `fraction` of every folder, chosen by `seed`. */
export function splitByFolder(messages: readonly Message[], fraction: number, seed: number): { train: Message[]; test: Message[] } {
  const random = seededRandom(seed);
  const train: Message[] = [];
  const test: Message[] = [];
  for (const folder of [...new Set(messages.map((m) => m.folder))].sort()) {
    const group = shuffled(
      messages.filter((m) => m.folder === folder),
      random,
    );
    const n = Math.round(group.length * fraction);
    test.push(...group.slice(0, n));
    train.push(...group.slice(n));
  }
  return { train, test };
}

interface FoldResult {
  labels: number[];
  whole: number[];
  body: number[];
}

type Checkpoint = Record<string, FoldResult>;

/** The smallest shift toward ham (from a fixed ladder) whose out-of-fold ham-as-spam share on whole messages is within the limit. */
function chooseShift(results: readonly FoldResult[], maxHamAsSpam: number): number {
  const labels = results.flatMap((r) => r.labels);
  const whole = results.flatMap((r) => r.whole);
  for (let s = 0; s >= -6; s -= 0.25) if (metricsOf(labels, whole, s).hamAsSpam <= maxHamAsSpam) return s;
  return -6;
}

const r5 = (v: number): number => Math.round(v * 1e5) / 1e5;

export interface TrainedText {
  model: LinearModel;
  vocabulary: Vocabulary;
  metadata: TextMetadata;
  onnx: Uint8Array;
  /** Which messages were used for what (splits.json). */
  splits: SplitRecord;
}

export async function trainText(opts: TextTrainOptions): Promise<TrainedText> {
  const started = performance.now();
  const log = opts.log;
  const messages = await readCorpus(opts.data);
  const { train: rest, test } = splitByFolder(messages, opts.testFraction, opts.seed);
  const { train, test: calibrationSplit } = splitByFolder(rest, opts.calibrationFraction, opts.seed + 2);
  log(`${messages.length} messages: ${train.length} for training and cross-validation, ${calibrationSplit.length} to calibrate confidence, ${test.length} held out for the final report`);
  const labels = train.map((m) => m.label);
  const folds = stratifiedFolds(labels, opts.folds, opts.seed + 1);

  // The checkpoint belongs to these messages, this seed and these settings.
  const fingerprint = createHash('sha256')
    .update(JSON.stringify({ ids: messages.map((m) => [m.id, m.bytes.length]), seed: opts.seed, folds: opts.folds, testFraction: opts.testFraction, calibrationFraction: opts.calibrationFraction, maxFeatures: opts.maxFeatures, minDf: opts.minDf, maxTokens: opts.maxTokens }))
    .digest('hex')
    .slice(0, 16);
  const checkpointPath = join(opts.cacheDir, `text-cv-${fingerprint}.json`);
  const checkpoint: Checkpoint = JSON.parse(await readFile(checkpointPath, 'utf8').catch(() => '{}')) as Checkpoint;
  const save = async (): Promise<void> => {
    await mkdir(opts.cacheDir, { recursive: true });
    await writeFile(`${checkpointPath}.tmp`, JSON.stringify(checkpoint));
    await rename(`${checkpointPath}.tmp`, checkpointPath);
  };
  const done = opts.grid.flatMap((v) => [...Array(opts.folds).keys()].filter((f) => checkpoint[`${f}|${keyOf(v)}`])).length;
  const total = opts.grid.length * opts.folds;
  if (done > 0) log(`resuming: ${done}/${total} cross-validation fits already in ${checkpointPath}`);

  // Documents per header set, read once.
  const readings = [...new Map(opts.grid.map((v) => [readingKey(v), { headers: v.headers, scope: v.scope }])).values()];
  const documents = new Map<string, Document[]>();
  const needs = (r: Reading): boolean => opts.grid.some((v) => readingKey(v) === readingKey(r) && [...Array(opts.folds).keys()].some((f) => !checkpoint[`${f}|${keyOf(v)}`]));
  for (const reading of readings) if (needs(reading)) documents.set(readingKey(reading), await readDocuments(train, reading, opts));

  let fitted = done;
  for (let f = 0; f < opts.folds; f++) {
    const inFold = (i: number): boolean => folds[i] === f;
    for (const reading of readings) {
      for (const n of [...new Set(opts.grid.map((v) => v.ngrams))].sort()) {
        const variants = opts.grid.filter((v) => readingKey(v) === readingKey(reading) && v.ngrams === n && !checkpoint[`${f}|${keyOf(v)}`]);
        if (variants.length === 0) continue;
        const docs = documents.get(readingKey(reading))!;
        const fit = fitDocuments(
          docs.filter((_, i) => !inFold(i)),
          { ...reading, ngrams: n },
          opts,
        );
        const held = heldExamples(
          docs.filter((_, i) => inFold(i)),
          fit.vocabulary,
          fit.spec,
        );
        for (const variant of variants) {
          const t = performance.now();
          const model = trainLinear(fit.examples, fit.vocabulary.terms.length, 2, variant.model);
          const result = { labels: held.labels, whole: held.whole.map((e) => r5(margin(model, e))), body: held.body.map((e) => r5(margin(model, e))) };
          checkpoint[`${f}|${keyOf(variant)}`] = result;
          await save();
          fitted++;
          const w = metricsOf(result.labels, result.whole, 0);
          const b = metricsOf(result.labels, result.body, 0);
          log(
            `[cv ${fitted}/${total}] fold ${f + 1}/${opts.folds} ${keyOf(variant)} (${fit.vocabulary.terms.length} terms): whole ${(w.accuracy * 100).toFixed(2)} % body ${(b.accuracy * 100).toFixed(2)} % ham-as-spam ${(w.hamAsSpam * 100).toFixed(2)} % (${((performance.now() - t) / 1000).toFixed(1)} s)`,
          );
        }
      }
    }
  }

  // Choose: the best mean accuracy over whole messages and bodies, across folds.
  const summary = opts.grid.map((variant) => {
    const results = [...Array(opts.folds).keys()].map((f) => checkpoint[`${f}|${keyOf(variant)}`]!);
    const accuracy = results.map((r) => (metricsOf(r.labels, r.whole, 0).accuracy + metricsOf(r.labels, r.body, 0).accuracy) / 2);
    const whole = results.map((r) => metricsOf(r.labels, r.whole, 0).accuracy);
    const body = results.map((r) => metricsOf(r.labels, r.body, 0).accuracy);
    return { variant, results, mean: mean(accuracy), whole, body };
  });
  summary.sort((a, b) => b.mean - a.mean);
  const best = summary[0]!;
  const shift = chooseShift(best.results, opts.maxHamAsSpam);
  const oof = {
    labels: best.results.flatMap((r) => r.labels),
    whole: best.results.flatMap((r) => r.whole),
    body: best.results.flatMap((r) => r.body),
  };
  const cvWhole = metricsOf(oof.labels, oof.whole, shift);
  const cvBody = metricsOf(oof.labels, oof.body, shift);
  log(`chosen by ${opts.folds}-fold cross-validation: ${keyOf(best.variant)} (mean accuracy ${(best.mean * 100).toFixed(2)} %), threshold shift ${shift} toward ham`);
  log(`  out of fold with that threshold: whole ${(cvWhole.accuracy * 100).toFixed(2)} %, body ${(cvBody.accuracy * 100).toFixed(2)} %, ham-as-spam ${(cvWhole.hamAsSpam * 100).toFixed(2)} %`);

  // The final model: the chosen variant on the whole training part.
  const docs = documents.get(readingKey(best.variant)) ?? (await readDocuments(train, best.variant, opts));
  const { vocabulary, spec, examples } = fitDocuments(docs, best.variant, opts);
  log(`training the final model on ${train.length} messages (whole and body: ${examples.length} examples, ${vocabulary.terms.length} terms)`);
  const model = shifted(trainLinear(examples, vocabulary.terms.length, 2, best.variant.model), 1, shift);

  // The temperature, fitted on the calibration split (whole messages and bodies, as served).
  const calSet = heldExamples(await readDocuments(calibrationSplit, best.variant, opts), vocabulary, spec);
  const asProbabilities = (margins: readonly number[]): Float32Array[] => margins.map((m) => Float32Array.of(1 / (1 + Math.exp(m)), 1 / (1 + Math.exp(-m))));
  const both = (set: typeof calSet): { rows: Float32Array[]; labels: number[] } => ({
    rows: asProbabilities([...set.whole, ...set.body].map((e) => margin(model, e))),
    labels: [...set.labels, ...set.labels],
  });

  // Reported once: the held-out split, never used for any choice.
  const testSet = heldExamples(await readDocuments(test, best.variant, opts), vocabulary, spec);
  const testLabels = testSet.labels;
  const testWhole = testSet.whole.map((e) => margin(model, e));
  const testBody = testSet.body.map((e) => margin(model, e));
  const heldWhole = metricsOf(testLabels, testWhole, 0);
  const heldBody = metricsOf(testLabels, testBody, 0);
  const interval = (margins: readonly number[]): Interval => roundedInterval(accuracyInterval(testLabels, margins.map((m) => (m > 0 ? 1 : 0)), opts.seed), 5);
  const calibration = calibrate(
    { ...both(calSet), what: `the calibration split (${calibrationSplit.length} messages, whole and body only)` },
    { ...both(testSet), what: `the test split (${test.length} messages, whole and body only)` },
  );
  log(`held out (${test.length} messages): whole ${(heldWhole.accuracy * 100).toFixed(2)} % (ham as spam ${(heldWhole.hamAsSpam * 100).toFixed(2)} %), body only ${(heldBody.accuracy * 100).toFixed(2)} %`);
  log(`calibration: temperature ${calibration.temperature}; held-out ECE ${(calibration.eceBefore * 100).toFixed(2)} % → ${(calibration.eceAfter * 100).toFixed(2)} %`);

  const seconds = Math.round((performance.now() - started) / 100) / 10;
  const metadata: TextMetadata = {
    kind: 'text-classifier',
    description: 'Spam filter for e-mails: ham or spam, from a whole RFC 822 message or its text alone. A linear model over tf-idf word features, trained on the SpamAssassin public corpus',
    labels: [...SPAM_LABELS],
    output: 'probabilities',
    text: spec,
    examples: EXAMPLES,
    calibration: { temperature: calibration.temperature, eceBefore: calibration.eceBefore, eceAfter: calibration.eceAfter, fittedOn: calibration.fittedOn, measuredOn: calibration.measuredOn },
    validation: {
      split: `${Math.round(opts.testFraction * 100)} % of every folder of ${opts.data} held out (seed ${opts.seed}); never used for any choice`,
      splits: SPLITS_FILE,
      whole: heldWhole,
      body: heldBody,
      accuracy: heldWhole.accuracy,
      accuracyInterval: interval(testWhole),
      bodyAccuracyInterval: interval(testBody),
      calibration,
      definitions: {
        whole: 'the raw message (headers and body) sent as message/rfc822',
        body: 'only the text after the header block, sent as text',
        hamAsSpam: 'ham marked as spam, out of all ham (the false positive rate)',
        confusion: '[actual][predicted], rows and columns in label order (ham, spam)',
      },
    },
    crossValidation: {
      folds: opts.folds,
      messages: train.length,
      criterion: 'mean accuracy over whole messages and bodies, per fold; then the decision threshold from the out-of-fold scores',
      chosen: { variant: keyOf(best.variant), meanAccuracy: r5(best.mean), spread: r5(spread(best.whole.map((w, i) => (w + best.body[i]!) / 2))), thresholdShift: shift, outOfFold: { whole: cvWhole, body: cvBody } },
      maxHamAsSpam: opts.maxHamAsSpam,
      tried: summary.map((s) => ({ variant: keyOf(s.variant), meanAccuracy: r5(s.mean), whole: r5(mean(s.whole)), wholeSpread: r5(spread(s.whole)), body: r5(mean(s.body)), bodySpread: r5(spread(s.body)) })),
    },
    training: {
      command: opts.command,
      seed: opts.seed,
      data: opts.data,
      messages: train.length,
      calibrationMessages: calibrationSplit.length,
      examples: examples.length,
      family: describeModel(best.variant.model),
      seconds,
    },
    onnx: { file: 'model.onnx', outputTransform: 'none' },
    createdAt: new Date().toISOString(),
  };
  const onnx = exportLinearSoftmax(model.weights, model.bias, {
    features: model.features,
    classes: model.classes,
    inputName: 'text_features',
    outputName: 'probabilities',
    producerVersion: '1',
    docString: `spam filter: ${keyOf(best.variant)}`,
  });
  const splits: SplitRecord = { ids: `message file under ${opts.data}`, source: { format: 'mail-folder', path: opts.data }, train: train.map((m) => m.id), calibration: calibrationSplit.map((m) => m.id), test: test.map((m) => m.id) };
  return { model, vocabulary, metadata, onnx, splits };
}

/** Short texts the demo page offers, one of each kind. */
const EXAMPLES = [
  {
    title: 'An offer (spam)',
    text: 'Dear friend,\n\nYou have been selected to receive a FREE credit report and a guaranteed low mortgage rate! Act now: this limited time offer expires soon. Click here to claim your prize and remove yourself from our mailing list at any time.\n\n$$$ Make money fast from home $$$',
  },
  {
    title: 'A mailing-list reply (ham)',
    text: 'On Tue, Aug 6, Matt wrote:\n> Has anyone got the new kernel patch building on Red Hat 7.3?\n\nYes, it builds fine here, but you need the updated gcc package first. I attached the config I used to the bug report on the list. Let me know if the module still fails to load.\n\nCheers,\nJustin',
  },
  {
    title: 'A whole e-mail (headers and body)',
    text: 'From: "Online Pharmacy" <deals@cheap-meds.example>\nTo: you@example.org\nSubject: Lowest prices on prescription drugs, no doctor visit needed\nContent-Type: text/html; charset=us-ascii\n\n<html><body><p>Order <b>today</b> and save up to 80%! No prescription required.</p><p><a href="http://cheap-meds.example/order">Click here to order</a></p><p>To be removed from this list, reply with REMOVE.</p></body></html>',
  },
];

/** Write model.onnx, the vocabulary, then metadata.json last, into a staging folder renamed into place. */
export async function writeTextVersion(repository: string, name: string, version: string, trained: TrainedText): Promise<string> {
  const target = join(repository, name, version);
  const staging = join(repository, name, `.staging-${version}`);
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  await writeFile(join(staging, 'model.onnx'), trained.onnx);
  const { terms, idf } = trained.vocabulary;
  await writeFile(join(staging, trained.metadata.text.features.vocabulary), `${JSON.stringify({ terms, idf: Array.from(idf) })}\n`);
  await writeFile(join(staging, SPLITS_FILE), `${JSON.stringify(trained.splits)}\n`);
  await writeFile(join(staging, 'metadata.json'), `${JSON.stringify(trained.metadata, null, 2)}\n`);
  await rm(target, { recursive: true, force: true });
  await rename(staging, target);
  return target;
}
