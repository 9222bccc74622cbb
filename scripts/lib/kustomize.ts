/**
 * Build a kustomization as `kubectl apply -k` would (`kubectl kustomize`), and validate every
 * object it renders: KServe resources against the CRD schemas in specs/kserve-crds (unknown
 * fields refused, as kubectl --validate=strict), the rest against the Kubernetes OpenAPI schema
 * of their kind (kubernetes-models).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { CrdValidator } from './crd-schema.js';

export interface KObject {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string };
}

/** The objects `kubectl kustomize dir` renders, or the reason it cannot build. */
export function kustomize(dir: string): { objects: KObject[] } | { error: string } {
  const r = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) return { error: `cannot run kubectl (it includes kustomize; install it to build the kustomizations): ${r.error.message}` };
  if (r.status !== 0) return { error: (r.stderr || r.stdout).trim() || `kubectl kustomize exited ${r.status}` };
  const docs = parseAllDocuments(r.stdout);
  const bad = docs.flatMap((d) => d.errors.map((e) => e.message));
  if (bad.length > 0) return { error: bad.join('\n') };
  return { objects: docs.map((d) => d.toJS() as KObject).filter((o) => o !== null) };
}

/** kubernetes-models module of an apiVersion: `apps/v1` → apps/v1, `v1` → v1. */
async function modelClass(apiVersion: string, kind: string): Promise<new (data: unknown) => { validate(): void }> {
  const mod = (await import(`kubernetes-models/${apiVersion}/${kind}`)) as Record<string, new (data: unknown) => { validate(): void }>;
  const cls = mod[kind] ?? mod.default;
  if (!cls) throw new Error(`no schema for ${apiVersion} ${kind}`);
  return cls;
}

/** Every problem of one rendered object, or none. */
export async function validateObject(obj: KObject, crds: CrdValidator): Promise<string[]> {
  if (crds.defines(obj.apiVersion, obj.kind)) return crds.validate(obj);
  try {
    const Model = await modelClass(obj.apiVersion, obj.kind);
    new Model(obj).validate();
    return [];
  } catch (err) {
    return [err instanceof Error ? err.message : String(err)];
  }
}

export function kserveCrds(root: string): CrdValidator {
  return new CrdValidator(['serving.kserve.io_servingruntimes.yaml', 'serving.kserve.io_inferenceservices.yaml'].map((f) => join(root, 'specs', 'kserve-crds', f)));
}

/** Build `dir` and validate what it renders: one line per problem (empty: valid). */
export async function checkKustomization(dir: string, crds: CrdValidator): Promise<{ objects: number; problems: string[] }> {
  const built = kustomize(dir);
  if ('error' in built) return { objects: 0, problems: [built.error] };
  const problems: string[] = [];
  for (const obj of built.objects) {
    for (const p of await validateObject(obj, crds)) problems.push(`${obj.kind} ${obj.metadata?.name ?? ''} (${obj.apiVersion}): ${p}`);
  }
  return { objects: built.objects.length, problems };
}

/** The folders of `kubectl apply -k <dir>` / `kubectl kustomize <dir>` in the docs, relative to the root. */
export function documentedKustomizations(root: string): string[] {
  const pages = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f))];
  const found = new Set<string>();
  for (const page of pages) {
    for (const m of readFileSync(join(root, page), 'utf8').matchAll(/kubectl (?:apply -k|kustomize) ([\w./-]+)/g)) found.add(m[1]!.replace(/\/$/, ''));
  }
  return [...found].sort();
}

/** Every folder under `dir` that holds a kustomization.yaml. */
export function kustomizationsUnder(root: string, dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    if (existsSync(join(d, 'kustomization.yaml'))) out.push(relative(root, d));
    for (const e of readdirSync(d)) if (statSync(join(d, e)).isDirectory()) walk(join(d, e));
  };
  walk(join(root, dir));
  return out.sort();
}
