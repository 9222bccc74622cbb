/**
 * Checks on one version folder before any runtime reads it: the weight files named by
 * model.json stay inside the folder, hold exactly the bytes the manifest describes, and the
 * whole folder fits MODEL_MAX_BYTES. A folder that fails is refused with the reason.
 */
import { lstat, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, normalize, relative, sep } from 'node:path';

/** The marker: a version is complete once its metadata.json is present (written last). */
export const COMPLETE_MARKER = 'metadata.json';
/** A training recipe without weights also makes a version complete (trained at load with MODEL_AUTOTRAIN). */
export const RECIPE_MARKER = 'train.json';
/** model.json holds the topology and the manifest, not weights. */
const MAX_MODEL_JSON_BYTES = 32 * 1024 * 1024;

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, int8: 1, uint16: 2, int16: 2, float16: 2, complex64: 8 };

interface ManifestWeight {
  name?: unknown;
  shape?: unknown;
  dtype?: unknown;
  quantization?: { dtype?: unknown } | null;
}

export class VersionFilesError extends Error {}

/** A relative path that stays inside its folder: no absolute paths, no '..', no backslashes or NUL. */
export function isContainedPath(p: string): boolean {
  if (p.length === 0 || p.length > 255 || isAbsolute(p) || /[\\\0]/.test(p)) return false;
  const n = normalize(p);
  return !n.split(sep).some((seg) => seg === '..' || seg === '' || seg === '.') && !n.startsWith('..');
}

function weightBytes(w: ManifestWeight, index: number): number {
  const shape = w.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && (d as number) >= 0)) {
    throw new VersionFilesError(`model.json: weight ${index} has an invalid shape`);
  }
  const dtype = typeof w.quantization?.dtype === 'string' ? w.quantization.dtype : w.dtype;
  const size = typeof dtype === 'string' ? DTYPE_BYTES[dtype] : undefined;
  if (size === undefined) throw new VersionFilesError(`model.json: weight ${index} has an unsupported dtype ${JSON.stringify(dtype)}`);
  return (shape as number[]).reduce((a, b) => a * b, 1) * size;
}

/** Total bytes of the regular files in `dir` (not following links); throws past `maxBytes`. */
export async function folderBytes(dir: string, maxBytes: number): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    total += (await lstat(join(entry.parentPath, entry.name))).size;
    if (total > maxBytes) throw new VersionFilesError(`the version holds more than MODEL_MAX_BYTES (${maxBytes} bytes)`);
  }
  return total;
}

/** Check a TF.js model.json and its weight shards in `dir`; throws VersionFilesError with the reason. */
export async function checkTfjsFiles(dir: string, maxBytes: number): Promise<void> {
  await folderBytes(dir, maxBytes);
  const jsonPath = join(dir, 'model.json');
  const info = await stat(jsonPath).catch(() => undefined);
  if (!info?.isFile()) throw new VersionFilesError('model.json is missing');
  if (info.size > MAX_MODEL_JSON_BYTES) throw new VersionFilesError(`model.json is ${info.size} bytes; the limit is ${MAX_MODEL_JSON_BYTES}`);
  let json: unknown;
  try {
    json = JSON.parse(await readFile(jsonPath, 'utf8'));
  } catch (err) {
    throw new VersionFilesError(`model.json is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const manifest = (json as { weightsManifest?: unknown }).weightsManifest;
  if (!Array.isArray(manifest)) throw new VersionFilesError('model.json has no weightsManifest');
  const root = await realpath(dir);
  let needed = 0;
  let present = 0;
  let index = 0;
  for (const group of manifest as { paths?: unknown; weights?: unknown }[]) {
    if (!Array.isArray(group.paths) || !Array.isArray(group.weights)) throw new VersionFilesError('model.json: a weightsManifest entry needs paths and weights');
    for (const p of group.paths as unknown[]) {
      if (typeof p !== 'string' || !isContainedPath(p)) {
        throw new VersionFilesError(`model.json names a weight file outside the version folder: ${JSON.stringify(p).slice(0, 100)}`);
      }
      const file = join(dir, p);
      const real = await realpath(file).catch(() => undefined);
      if (!real) throw new VersionFilesError(`weight file ${p} is missing`);
      if (relative(root, real).startsWith('..') || isAbsolute(relative(root, real))) {
        throw new VersionFilesError(`weight file ${p} links outside the version folder`);
      }
      const s = await stat(real);
      if (!s.isFile()) throw new VersionFilesError(`weight file ${p} is not a regular file`);
      present += s.size;
    }
    for (const w of group.weights as ManifestWeight[]) needed += weightBytes(w, index++);
  }
  if (needed > maxBytes) throw new VersionFilesError(`the manifest describes ${needed} bytes of weights; MODEL_MAX_BYTES is ${maxBytes}`);
  if (present !== needed) throw new VersionFilesError(`the weight files hold ${present} bytes but the manifest describes ${needed}`);
}
