/**
 * Write example /predict responses for real photos into predictions/, produced by the real
 * app with the shipped model (never typed by hand).
 *
 *   npm run predictions -- [--images tests/fixtures/images] [--out predictions]
 */
import { readdir, readFile, mkdir, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import Fastify from 'fastify';
import fp from 'fastify-plugin';
import app from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { serverOptions } from '../src/server-options.js';

const { values } = parseArgs({
  options: {
    images: { type: 'string', default: 'tests/fixtures/images' },
    out: { type: 'string', default: 'predictions' },
    repository: { type: 'string', default: 'models' },
  },
});

const config = loadConfig({ ...process.env, MODEL_REPOSITORY: values.repository, MODEL_POLL_INTERVAL_S: '0', LOG_LEVEL: 'silent' });
const server = Fastify(serverOptions(config, false));
await server.register(fp(app), { config });
await server.ready();
await server.models.settled();
await mkdir(values.out, { recursive: true });
const files = (await readdir(values.images)).filter((f) => /\.(jpe?g|png|webp)$/i.test(f)).sort();
const index: string[] = [
  '# Example predictions',
  '',
  `Responses of \`POST /predict?top_k=3\` from the shipped model for the photos in \`${values.images}\`,`,
  'written by `npm run predictions` (do not edit by hand). Each `<name>.json` is exactly the response body.',
  '',
  '| image | class_label | confidence | response |',
  '| --- | --- | --- | --- |',
];
for (const file of files) {
  const bytes = await readFile(join(values.images, file));
  const res = await server.inject({ method: 'POST', url: '/predict?top_k=3', payload: { image: bytes.toString('base64') } });
  if (res.statusCode !== 200) throw new Error(`${file}: HTTP ${res.statusCode} ${res.body}`);
  const body = res.json<Record<string, unknown>>();
  const name = basename(file, extname(file));
  await writeFile(join(values.out, `${name}.json`), `${JSON.stringify(body, null, 2)}\n`);
  index.push(`| ${file} | ${String(body.class_label)} | ${String(body.confidence)} | [${name}.json](${name}.json) |`);
  console.log(`${file}: ${String(body.class_label)} (${String(body.confidence)})`);
}

// Ten photos chosen by file name say little of the model: beside them, its held-out figures.
const model = config.DEFAULT_MODEL;
const defaultVersion = (await server.inject({ method: 'GET', url: `/v1/models/${model}` })).json<{ default_version: string }>().default_version;
const detail = (await server.inject({ method: 'GET', url: `/v1/models/${model}/versions/${defaultVersion}` })).json<{
  evaluation: { card: string | null; summary: { items: number; accuracy?: { value: number; low: number; high: number } } } | null;
}>();
const fair = detail.evaluation;
if (fair?.summary.accuracy) {
  const pct = (v: number): string => `${(v * 100).toFixed(1)} %`;
  const { value, low, high } = fair.summary.accuracy;
  index.push(
    '',
    `These ${files.length} photos were chosen by file name, not by result (one held-out CIFAR-10 photo per label): ${files.length} answers say little of the model.`,
    `On ${fair.summary.items.toLocaleString('en')} held-out CIFAR-10 photos it is right ${pct(value)} of the time (95 % bootstrap interval ${pct(low)} to ${pct(high)});`,
    `its [model card](../${fair.card ?? 'docs/models'}) shows a grid of held-out photos with their answers, the confusion matrix and how far its confidence can be trusted.`,
  );
}

// Tabular models: example requests (`<model>.request.json`) and their real responses.
const TABULAR: { model: string; file: string; url: string; body: unknown; what: string }[] = [
  { model: 'iris', file: 'iris', url: '/v1/models/iris/predict', body: { features: { sepal_length: 6.7, sepal_width: 3.0, petal_length: 5.2, petal_width: 2.3 } }, what: 'one row, by feature name' },
  { model: 'iris', file: 'iris-batch', url: '/v1/models/iris/predict/batch', body: { instances: [[5.1, 3.5, 1.4, 0.2], [5.9, 2.8, 4.3, 1.3], [6.7, 3.0, 5.2, 9.1]] }, what: 'a batch in declared order; the last row out of range' },
  { model: 'wine-quality', file: 'wine-quality', url: '/v1/models/wine-quality/predict', body: { features: [7.4, 0.7, 0, 1.9, 0.076, 11, 34, 0.9978, 3.51, 0.56, 9.4] }, what: 'one red wine (scored 5 by the experts), in declared order' },
];
index.push('', 'Tabular models: `<name>.request.json` is the request body, `<name>.json` the response.', '', '| request | model | what | response |', '| --- | --- | --- | --- |');
for (const t of TABULAR) {
  const res = await server.inject({ method: 'POST', url: t.url, payload: t.body as Record<string, unknown> });
  if (res.statusCode !== 200) throw new Error(`${t.file}: HTTP ${res.statusCode} ${res.body}`);
  const body = res.json<Record<string, unknown>>();
  await writeFile(join(values.out, `${t.file}.request.json`), `${JSON.stringify(t.body, null, 2)}\n`);
  await writeFile(join(values.out, `${t.file}.json`), `${JSON.stringify(body, null, 2)}\n`);
  index.push(`| [${t.file}.request.json](${t.file}.request.json) | ${t.model} | ${t.what} | [${t.file}.json](${t.file}.json) |`);
  console.log(`${t.file}: ${JSON.stringify(body).slice(0, 120)}`);
}
await writeFile(join(values.out, 'README.md'), `${index.join('\n')}\n`);
await server.close();
