/**
 * Build the image from the project's Dockerfile and smoke-test its container as users run
 * it (scripts/lib/image/smoke.ts), then print its size, the size above the base, each part's
 * size, and how long the container took to be ready. Docker where an engine answers, else
 * buildah. Where the base image cannot be pulled (no registry reachable), a stand-in is
 * assembled under its name (scripts/lib/image/stand-in.ts) and said so.
 *
 *   npm run image [-- --tfjs-node] [--tag NAME] [--engine docker|buildah] [--no-build]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Buildah, Docker, type Engine } from './lib/image/engine.js';
import { smoke } from './lib/image/smoke.js';
import { assembleStandIn } from './lib/image/stand-in.js';

const USAGE = `usage: npm run image -- [options]

Builds the image from ./Dockerfile, runs its container as the image says and smoke-tests it:
/health, /ready, a prediction from every bundled model, gRPC ServerReady, the HEALTHCHECK
command, uid 1000, SIGTERM with requests in flight, nothing written outside /tmp, and two
containers sharing a real redis-server's cache. Prints the sizes and the ready time.

options:
  --tag NAME        the image's name (default ml-inference-api:local)
  --tfjs-node       build with the native TF.js backend (build argument TFJS_NODE=true;
                    its install downloads libtensorflow)
  --engine E        docker or buildah (default: docker when an engine answers, else buildah)
  --no-build        smoke-test the image already built under --tag
  -h, --help        this text`;

let args: ReturnType<typeof parse>;
function parse() {
  return parseArgs({ options: { tag: { type: 'string', default: 'ml-inference-api:local' }, 'tfjs-node': { type: 'boolean', default: false }, engine: { type: 'string' }, 'no-build': { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } } });
}
try {
  args = parse();
} catch (err) {
  console.error(`image: ${(err as Error).message} (npm run image -- --help)`);
  process.exit(2);
}
if (args.values.help) {
  console.log(USAGE);
  process.exit(0);
}
const { tag } = args.values;
const choice = args.values.engine ?? (Docker.available() ? 'docker' : 'buildah');
if (choice !== 'docker' && choice !== 'buildah') {
  console.error(`image: --engine is docker or buildah, not ${choice}`);
  process.exit(2);
}
const engine: Engine = choice === 'docker' ? new Docker() : new Buildah();
const base = /^ARG NODE_IMAGE=(\S+)$/m.exec(readFileSync('Dockerfile', 'utf8'))?.[1];
if (!base) throw new Error('the Dockerfile names no ARG NODE_IMAGE');
const MB = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

let standIn = false;
if (!args.values['no-build']) {
  if (!engine.hasImage(base) && !engine.pull(base)) {
    if (engine.name !== 'buildah') throw new Error(`cannot pull ${base}, and a stand-in is assembled with buildah only`);
    console.log(`${base} cannot be pulled (no registry reachable): assembling a stand-in under its name, for this check only`);
    assembleStandIn(base, join('.cache', 'image'));
    standIn = true;
  } else standIn = /STAND-IN/.test(Object.values(engine.config(base).labels).join(' '));
  const started = performance.now();
  try {
    engine.build(tag, { TFJS_NODE: String(args.values['tfjs-node']) });
  } catch (err) {
    console.error(`image: the build failed (its output is above): ${(err as Error).message}`);
    process.exit(1);
  }
  console.log(`built ${tag} with ${engine.name} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

const report = await smoke(engine, tag);
const image = engine.sizes(tag);
const baseSizes = engine.hasImage(base) ? engine.sizes(base) : undefined;
console.log(`\nimage ${tag} (${engine.name}, TFJS_NODE=${String(args.values['tfjs-node'])}): ${MB(image.total)}`);
if (baseSizes) {
  const above = image.total - baseSizes.total;
  console.log(`  base ${base}${standIn ? ' (the stand-in)' : ''}: ${MB(baseSizes.total)}`);
  console.log(`  layers above the base: ${MB(above)} (${image.layers.slice(baseSizes.layers.length).map(MB).join(' + ')})`);
  const parts = [...report.parts.entries()];
  const modules = parts.filter(([p]) => p.startsWith('node_modules/')).sort((x, y) => y[1] - x[1]);
  const kb = MB;
  const sum = (xs: [string, number][]): number => xs.reduce((n, [, k]) => n + k, 0);
  console.log(`    node_modules: ${kb(sum(modules))}: ${modules.slice(0, 8).map(([p, k]) => `${p.slice(13)} ${kb(k)}`).join(', ')}, ${modules.length - 8} others ${kb(sum(modules.slice(8)))}`);
  for (const [p, k] of parts.filter(([p]) => !p.startsWith('node_modules/'))) console.log(`    ${p}: ${kb(k)}`);
  console.log(`    the rest (tini from apt, file headers): ${MB(above - sum(parts))}`);
}
console.log(`  ready after the entrypoint started: ${report.readySeconds.map((s) => `${s.toFixed(2)} s`).join(', ')} (the image as it is; then the two sharing Redis, on TF.js)`);
if (report.failures.length > 0) {
  console.log(`\n${report.failures.length} check(s) failed:\n${report.failures.map((f) => `  ${f}`).join('\n')}`);
  process.exit(1);
}
console.log('\nthe image passed every check');
