/**
 * The image's production node_modules, cut to what Node.js loads on one architecture (the
 * Dockerfile's deps stage runs it after `npm ci --omit=dev`):
 *   - onnxruntime-node keeps the native binaries of `--arch` alone (it ships darwin, win32
 *     and both Linux architectures);
 *   - a TF.js package whose Node.js entry (`main`) is one bundle keeps that bundle, its
 *     WebAssembly binaries and its licence: the browser bundles, the ES module tree (read by
 *     bundlers, never by Node.js) and the miniprogram build go;
 *   - what nothing loads under Node.js goes: core-js (the umbrella TF.js browser bundles'
 *     polyfills), type declarations (@types), and protobufjs's code generator (cli/, with
 *     its own dependencies: a build tool, in the copy onnx-proto nests);
 *   - everywhere: source maps, TypeScript declarations, and markdown.
 * It prints what it removed. Plain JavaScript: the image's Node.js runs it without a loader.
 *
 *   node scripts/image/prune-modules.mjs [--arch amd64|arm64] [node_modules]
 */
import { existsSync, lstatSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, join, normalize } from 'node:path';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ options: { arch: { type: 'string', default: '' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true });
if (values.help) {
  console.log('usage: node scripts/image/prune-modules.mjs [--arch amd64|arm64] [node_modules]');
  process.exit(0);
}
/** Docker's TARGETARCH names, as Node.js and onnxruntime-node name them. */
const ARCHES = { amd64: 'x64', arm64: 'arm64', x64: 'x64' };
const arch = values.arch ? ARCHES[values.arch] : process.arch;
if (!arch) {
  console.error(`prune-modules: no native binaries are shipped for ${values.arch} (amd64 or arm64)`);
  process.exit(2);
}
const root = positionals[0] ?? 'node_modules';
let removed = 0;

function sizeOf(path) {
  const st = lstatSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((n, e) => n + sizeOf(join(path, e)), 0);
}

function remove(path, why) {
  if (!existsSync(path)) return;
  const bytes = sizeOf(path);
  rmSync(path, { recursive: true, force: true });
  removed += bytes;
  if (why) console.log(`${(bytes / 1e6).toFixed(1).padStart(7)} MB  ${path}  (${why})`);
}

// onnxruntime-node: bin/napi-v*/<platform>/<arch>/, only linux/<arch> is loaded here.
const ortBin = join(root, 'onnxruntime-node', 'bin');
if (existsSync(ortBin)) {
  for (const napi of readdirSync(ortBin)) {
    for (const platform of readdirSync(join(ortBin, napi))) {
      for (const a of readdirSync(join(ortBin, napi, platform))) {
        if (platform !== 'linux' || a !== arch) remove(join(ortBin, napi, platform, a), `onnxruntime-node for ${platform}/${a}`);
      }
    }
  }
  if (!existsSync(join(ortBin, readdirSync(ortBin)[0] ?? '', 'linux', arch))) {
    console.error(`prune-modules: onnxruntime-node has no linux/${arch} binaries`);
    process.exit(1);
  }
}

// TF.js packages whose Node.js entry is one bundle (tfjs-node's is a module tree: kept whole).
const tfjs = join(root, '@tensorflow');
if (existsSync(tfjs)) {
  for (const name of readdirSync(tfjs)) {
    const dir = join(tfjs, name);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const main = normalize(pkg.main ?? '');
    if (!/\.node\.js$/.test(main) || !existsSync(join(dir, main))) continue;
    const keep = (rel) => rel === 'package.json' || /^LICENSE/i.test(rel) || rel === main || (rel.startsWith('dist/') && rel.endsWith('.wasm') && !rel.includes('/', 5));
    const walk = (rel) => {
      for (const entry of readdirSync(join(dir, rel), { withFileTypes: true })) {
        const path = rel ? `${rel}/${entry.name}` : entry.name;
        if (entry.isDirectory()) {
          if (main.startsWith(`${path}/`)) walk(path);
          else remove(join(dir, path));
        } else if (!keep(path)) remove(join(dir, path));
      }
    };
    const before = removed;
    walk('');
    console.log(`${((removed - before) / 1e6).toFixed(1).padStart(7)} MB  ${dir}  (all but its Node.js bundle ${main} and WebAssembly)`);
  }
}

// Nothing under Node.js loads these.
remove(join(root, 'core-js'), 'polyfills of the TF.js browser bundles');
remove(join(root, '@types'), 'type declarations');

// Everywhere: maps, declarations, markdown.
const JUNK = /(\.map|\.d\.[cm]?ts|\.md|\.markdown)$/i;
let junk = 0;
const sweep = (dir) => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && entry.name === 'cli' && basename(dir) === 'protobufjs') remove(path, "protobufjs's code generator (pbjs, pbts)");
    else if (entry.isDirectory()) sweep(path);
    else if (entry.isFile() && JUNK.test(entry.name) && !/^LICEN[CS]E/i.test(basename(entry.name))) {
      const before = removed;
      remove(path);
      junk += removed - before;
    }
  }
};
sweep(root);
console.log(`${(junk / 1e6).toFixed(1).padStart(7)} MB  source maps, type declarations and markdown`);
console.log(`${(removed / 1e6).toFixed(1).padStart(7)} MB  removed from ${root} in all (native binaries kept: linux/${arch})`);
