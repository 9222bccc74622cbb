/** A model card in Markdown, from a version's metadata.json and its evaluation (scripts/evaluate.ts). */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { KindModel } from '../../src/kinds/kind.js';
import type { Evaluation } from '../../src/evaluation/summary.js';
import type { SplitRecord } from '../../src/training/evaluation.js';

interface CardInput {
  name: string;
  version: string;
  dir: string;
  metadata: Record<string, unknown>;
  evaluation: Evaluation;
  kind: KindModel;
  /** Which rows trained, calibrated and judge it (splits.json), when recorded. */
  record?: SplitRecord | undefined;
  /** Pictures by role, relative to the card. */
  pictures: Record<string, string>;
}

const pct = (v: number, d = 1): string => `${(v * 100).toFixed(d)} %`;
const interval = (i: { value: number; low: number; high: number }, asPct = true): string =>
  asPct ? `**${pct(i.value)}** (95 % bootstrap interval ${pct(i.low)} to ${pct(i.high)})` : `**${i.value}** (95 % bootstrap interval ${i.low} to ${i.high})`;

interface Tried {
  candidate?: string;
  variant?: string;
  description?: string;
  meanAccuracy?: number;
  accuracy?: { mean: number; spread: number };
  whole?: number;
  wholeSpread?: number;
  body?: number;
  bodySpread?: number;
}

function crossValidationSection(cv: Record<string, unknown> | undefined, kind: string): string[] {
  if (!cv) {
    return [
      '**Not chosen by cross-validation.** This version\'s architecture and training settings were fixed by the command that trained it, not compared by k-fold cross-validation on the training part (a full training run takes about two hours on the machines this project is built on).',
      kind === 'image-classifier' ? 'Its trainer printed the accuracy on its validation images after every epoch. The figures below come from the second half of those images (the temperature was fitted on the first half, never on these): read them as a held-out estimate from images the training never learned from, not as a figure from data nobody ever looked at.' : '',
    ].filter(Boolean);
  }
  const tried = (cv.tried as Tried[] | undefined) ?? [];
  const chosen = typeof cv.chosen === 'string' ? cv.chosen : ((cv.chosen as { variant?: string } | undefined)?.variant ?? '');
  const lines = [`Chosen by ${String(cv.folds)}-fold stratified cross-validation on the training part only (${String(cv.rows ?? cv.messages)} ${cv.messages ? 'messages' : 'rows'}); criterion: ${String(cv.criterion)}. Every candidate tried:`, '', '| candidate | cross-validated accuracy (mean ± spread over folds) | |', '|---|---:|---|'];
  for (const t of tried) {
    const key = t.candidate ?? t.variant ?? '?';
    const figure = t.accuracy ? `${pct(t.accuracy.mean)} ± ${pct(t.accuracy.spread)}` : t.whole !== undefined ? `${pct(t.whole)} ± ${pct(t.wholeSpread ?? 0)} whole, ${pct(t.body ?? 0)} ± ${pct(t.bodySpread ?? 0)} body` : t.meanAccuracy !== undefined ? pct(t.meanAccuracy) : '';
    lines.push(`| ${key}${t.description ? ` (${t.description})` : ''} | ${figure} | ${key === chosen ? '**chosen**' : ''} |`);
  }
  return lines;
}

function limits(input: CardInput, evaluation: Evaluation): string[] {
  const out: string[] = [];
  const kind = input.kind.kind;
  if (kind === 'image-classifier') {
    out.push(
      `It answers one of its ${evaluation.task === 'classification' ? evaluation.labels.length : ''} labels for any picture, however far from them: a picture of none of these things still gets the label it looks most like, and its confidence says little then.`,
      'It sees 32 × 32 pixels: a photo is scaled down (and cropped to a square) first, so small objects and fine detail are lost.',
      'CIFAR-10 photos are small, centred, web photos of the 2000s; other photos (drawings, screenshots, night shots, close-ups) may score well below the figures above.',
    );
  } else if (kind === 'text-classifier') {
    out.push(
      'Trained on the SpamAssassin public corpus (e-mails of 2002-2003, mostly English, from a few mailing lists): newer spam, other languages and other kinds of mail may score below the figures above.',
      'A linear model over words: it can be steered by adding or removing words, and it does not read images, attachments or links\' targets.',
    );
  } else {
    out.push('Values outside the range seen in training are answered (with a warning in the answer), but the model has never seen such rows: treat those answers with suspicion.');
    if (kind === 'tabular-regressor') out.push('The score is a judgement by experts; rare scores (the extremes) are predicted worst, as the confusion matrix shows.');
  }
  out.push(`The interval comes from ${evaluation.items} held-out ${evaluation.items === 1 ? 'input' : 'inputs'}: with few inputs, it is wide, and it says nothing about data unlike them.`);
  return out;
}

export function modelCard(input: CardInput): string {
  const { name, version, metadata, evaluation, pictures } = input;
  const training = (metadata.training ?? {}) as Record<string, unknown>;
  const lines: string[] = [`# Model card: ${name}, version ${version}`, '', '<!-- Written by `npm run evaluate -- ' + name + '`; edits are overwritten. -->', '', String(metadata.description ?? ''), ''];
  lines.push('| | |', '|---|---|', `| kind | \`${input.kind.kind}\` |`);
  if (evaluation.task === 'classification') lines.push(`| labels | ${evaluation.labels.join(', ')} |`);
  else lines.push(`| answers | ${evaluation.target}${(metadata.target as { description?: string } | undefined)?.description ? `: ${(metadata.target as { description: string }).description}` : ''} |`);
  if (Array.isArray(metadata.features)) lines.push(`| features | ${(metadata.features as { name: string; unit?: string }[]).map((f) => `${f.name}${f.unit ? ` (${f.unit})` : ''}`).join(', ')} |`);
  if (input.record) {
    const r = input.record;
    lines.push(`| data | ${r.train.length} for training${r.calibration ? `, ${r.calibration.length} to calibrate confidence` : ''}, ${r.test.length} held out for the report; by ${r.ids} (\`${input.dir}/splits.json\`) |`);
  }
  if (training.family) lines.push(`| model | ${String(training.family)} |`);
  if (training.command) lines.push(`| trained by | \`${String(training.command)}\` |`);
  lines.push(`| evaluated on | ${evaluation.data} |`, `| served at | \`POST /v1/models/${name}/versions/${version}/predict\`, \`/v2/models/${name}/versions/${version}/infer\`, gRPC \`ModelInfer\` |`, '');

  lines.push('## How it was chosen', '', ...crossValidationSection(metadata.crossValidation as Record<string, unknown> | undefined, input.kind.kind), '');

  if (evaluation.task === 'classification') {
    lines.push('## Accuracy', '', `Held-out accuracy ${interval(evaluation.accuracy)} on ${evaluation.items} inputs.`, '');
    lines.push('| label | precision | recall | held-out inputs |', '|---|---:|---:|---:|');
    for (const c of evaluation.perClass) lines.push(`| ${c.label} | ${pct(c.precision)} | ${pct(c.recall)} | ${c.support} |`);
    lines.push('', `![Confusion matrix of ${name} ${version}](${pictures.confusion!})`, '');
    const cal = evaluation.calibration;
    lines.push('## Calibration', '');
    lines.push(
      cal.temperature === 1
        ? 'No temperature: the server answers the model\'s own probabilities.'
        : `The server answers softmax(log p / T) with **T = ${cal.temperature}**, fitted on the calibration split (never the data below); the most likely label never changes.`,
      '',
      '| | expected calibration error (15 bins) | negative log-likelihood |',
      '|---|---:|---:|',
      `| the model's own probabilities | ${pct(cal.eceBefore, 2)} | ${cal.nllBefore} |`,
      `| as served (T = ${cal.temperature}) | ${pct(cal.eceAfter, 2)}${cal.eceAfterInterval ? ` (95 % bootstrap interval ${pct(cal.eceAfterInterval.low, 2)} to ${pct(cal.eceAfterInterval.high, 2)})` : ''} | ${cal.nllAfter} |`,
      '',
      'A calibrated model\'s answers with confidence 0.9 are right about 90 % of the time: its bars lie on the diagonal.',
      '',
      `![Reliability diagram of ${name} ${version}](${pictures.reliability!})`,
      '',
    );
  } else {
    lines.push('## Errors', '', `Mean absolute error ${interval(evaluation.meanAbsoluteError, false)} on ${evaluation.items} held-out rows; ${Math.round(evaluation.errors.interval.coverage * 100)} % of the errors (prediction − actual) lie between **${evaluation.errors.interval.low}** and **${evaluation.errors.interval.high}**.`, '');
    if (evaluation.rounded) lines.push(`Rounded to the nearest whole ${evaluation.target}, the prediction equals the actual one for ${interval(evaluation.rounded.accuracy)} of rows.`, '', `![Confusion matrix of ${name} ${version}, rounded](${pictures.confusion!})`, '');
    lines.push(`![Held-out errors of ${name} ${version}](${pictures.errors!})`, '');
  }
  if (pictures.examples) {
    lines.push(
      '## Held-out photos and their answers',
      '',
      'The first six held-out photos of every label by file name (chosen by name, not by result), with the label and confidence the server answers: green when right, red when wrong. The ten example answers in `predictions/` are single photos chosen by file name too; read them beside this grid and the accuracy above, not alone.',
      '',
      `![Held-out photos of ${name} ${version} and the answers](${pictures.examples})`,
      '',
    );
  }
  lines.push('## Limits', '', ...limits(input, evaluation).map((l) => `- ${l}`), '');
  lines.push(`The figures are in \`${input.dir}/evaluation.json\`; the server answers them at \`GET /v1/models/${name}/versions/${version}/evaluation\`.`, '');
  return lines.join('\n');
}

export async function writeModelCard(path: string, input: CardInput): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, modelCard(input));
}
