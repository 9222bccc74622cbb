/**
 * Checks every deployment artifact with a real validator, without a Docker engine or a
 * cluster:
 *   Dockerfile          dockerfile-utils lint (the linter of the VS Code Docker extension)
 *   docker-compose.yml  `docker-compose config` (Compose's own validator; apt docker-compose)
 *   deploy/k8s          each resource of the kustomization against the Kubernetes OpenAPI
 *                       schema of its kind (kubernetes-models)
 *   deploy/kserve       KServe resources against the CRD schemas in specs/kserve-crds (unknown
 *                       fields refused, as kubectl --validate=strict), the rest as deploy/k8s
 *   .github/workflows   the GitHub Actions workflow schema (action-validator)
 *
 *   npm run validate:deploy
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { CrdValidator } from './lib/crd-schema.js';

const root = process.cwd();
const failures: string[] = [];

function check(name: string, run: () => string | undefined): void {
  try {
    const problem = run();
    if (problem) failures.push(`${name}: ${problem}`);
    console.log(`${problem ? 'FAIL' : 'ok  '} ${name}${problem ? `\n${problem.replace(/^/gm, '     ')}` : ''}`);
  } catch (err) {
    failures.push(`${name}: ${String(err)}`);
    console.log(`FAIL ${name}: ${String(err)}`);
  }
}

function tool(command: string, args: string[], cwd = root): string | undefined {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8' });
  if (r.error) return `cannot run ${command}: ${r.error.message}`;
  return r.status === 0 ? undefined : `${r.stdout}${r.stderr}`.trim() || `${command} exited ${r.status}`;
}

const bin = (name: string): string => join(root, 'node_modules', '.bin', name);

check('Dockerfile (dockerfile-utils lint)', () => tool(bin('dockerfile-utils'), ['lint', 'Dockerfile']));

check('docker-compose.yml (docker-compose config)', () => {
  // Validated twice: as on a fresh clone (no .env: the newcomer path) and with a .env made
  // from .env.example.
  const dir = mkdtempSync(join(tmpdir(), 'compose-'));
  try {
    copyFileSync(join(root, 'docker-compose.yml'), join(dir, 'docker-compose.yml'));
    // Compose v1 from apt; where only the v2 plugin exists (GitHub runners), `docker compose`.
    const v1 = spawnSync('docker-compose', ['version'], { encoding: 'utf8' });
    const config = (): string | undefined => (v1.error ? tool('docker', ['compose', 'config', '--quiet'], dir) : tool('docker-compose', ['config', '--quiet'], dir));
    const fresh = config();
    if (fresh) return `without .env: ${fresh}`;
    copyFileSync(join(root, '.env.example'), join(dir, '.env'));
    const withEnv = config();
    return withEnv && `with .env from .env.example: ${withEnv}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** kubernetes-models module of an apiVersion: `apps/v1` → apps/v1, `v1` → v1. */
async function modelClass(apiVersion: string, kind: string): Promise<new (data: unknown) => { validate(): void }> {
  const mod = (await import(`kubernetes-models/${apiVersion}/${kind}`)) as Record<string, new (data: unknown) => { validate(): void }>;
  const cls = mod[kind] ?? mod.default;
  if (!cls) throw new Error(`no schema for ${apiVersion} ${kind}`);
  return cls;
}

const k8sDir = join(root, 'deploy', 'k8s');
/** The base's resources, and the overlays' patches (each a complete object of its kind). */
const k8sFiles = (dir: string): string[] => {
  const k = parseAllDocuments(readFileSync(join(k8sDir, dir, 'kustomization.yaml'), 'utf8'))[0]!.toJS() as { resources?: string[]; patches?: { path: string }[] };
  return [...(k.resources ?? []).filter((r) => r.endsWith('.yaml')), ...(k.patches ?? []).map((p) => p.path)].map((f) => join(dir, f));
};
for (const file of [...k8sFiles('.'), ...k8sFiles('s3')].map((f) => f.replace(/^\.\//, ''))) {
  for (const doc of parseAllDocuments(readFileSync(join(k8sDir, file), 'utf8'))) {
    if (doc.errors.length > 0) {
      check(`deploy/k8s/${file}`, () => doc.errors.map((e) => e.message).join('\n'));
      continue;
    }
    const obj = doc.toJS() as { apiVersion: string; kind: string; metadata?: { name?: string } };
    const name = `deploy/k8s/${file}: ${obj.kind} ${obj.metadata?.name ?? ''} (${obj.apiVersion})`;
    try {
      const Model = await modelClass(obj.apiVersion, obj.kind);
      check(name, () => {
        new Model(obj).validate();
        return undefined;
      });
    } catch (err) {
      check(name, () => String(err));
    }
  }
}

const crds = new CrdValidator(['serving.kserve.io_servingruntimes.yaml', 'serving.kserve.io_inferenceservices.yaml'].map((f) => join(root, 'specs', 'kserve-crds', f)));
const kserveDir = join(root, 'deploy', 'kserve');
const kserveFiles = (parseAllDocuments(readFileSync(join(kserveDir, 'kustomization.yaml'), 'utf8'))[0]!.toJS() as { resources: string[] }).resources;
for (const file of kserveFiles) {
  for (const doc of parseAllDocuments(readFileSync(join(kserveDir, file), 'utf8'))) {
    const obj = doc.toJS() as { apiVersion: string; kind: string; metadata?: { name?: string } };
    const name = `deploy/kserve/${file}: ${obj.kind} ${obj.metadata?.name ?? ''} (${obj.apiVersion})`;
    if (doc.errors.length > 0) {
      check(name, () => doc.errors.map((e) => e.message).join('\n'));
    } else if (crds.defines(obj.apiVersion, obj.kind)) {
      check(`${name} against its CRD`, () => crds.validate(obj).join('\n') || undefined);
    } else {
      const Model = await modelClass(obj.apiVersion, obj.kind);
      check(name, () => {
        new Model(obj).validate();
        return undefined;
      });
    }
  }
}

const workflows = join(root, '.github', 'workflows');
for (const file of readdirSync(workflows).filter((f) => /\.ya?ml$/.test(f))) {
  check(`.github/workflows/${file} (action-validator)`, () => tool(bin('action-validator'), [join(workflows, file)]));
}

if (failures.length > 0) {
  console.error(`\n${failures.length} deployment artifact(s) failed validation`);
  process.exit(1);
}
console.log('\nall deployment artifacts are valid');
