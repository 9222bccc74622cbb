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
await writeFile(join(values.out, 'README.md'), `${index.join('\n')}\n`);
await server.close();
