/**
 * Checks every deployment artifact with a real validator, without a Docker engine or a
 * cluster:
 *   Dockerfile          dockerfile-utils lint (the linter of the VS Code Docker extension), and
 *                       every path it copies from the context survives .dockerignore (in a
 *                       fresh clone's files: git ls-files)
 *   docker-compose.yml  `docker-compose config` (Compose's own validator; apt docker-compose)
 *   kustomizations      every one the docs name (`kubectl apply -k DIR`) and every one under
 *                       deploy/, built with `kubectl kustomize` and validated as rendered:
 *                       KServe resources against the CRD schemas in specs/kserve-crds (unknown
 *                       fields refused, as kubectl --validate=strict), the rest against the
 *                       Kubernetes OpenAPI schema of their kind (kubernetes-models)
 *   the gRPC port       declared alike in the Dockerfile, Compose, the Kubernetes Deployment
 *                       and Service (h2c) and the KServe runtime and gRPC InferenceService
 *   .github/workflows   the GitHub Actions workflow schema (action-validator)
 *
 *   npm run validate:deploy
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { contextProblems } from './lib/dockerignore.js';
import { grpcPortProblems } from './lib/grpc-ports.js';
import { checkKustomization, documentedKustomizations, kserveCrds, kustomizationsUnder } from './lib/kustomize.js';

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

check('Dockerfile sources (what .dockerignore leaves in the build context)', () => {
  const files = spawnSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' }).stdout.split('\0').filter(Boolean);
  return contextProblems(readFileSync(join(root, 'Dockerfile'), 'utf8'), readFileSync(join(root, '.dockerignore'), 'utf8'), files).join('\n') || undefined;
});

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

// Every kustomization the docs name, and every one under deploy/, built as `kubectl apply -k`
// builds it and validated as rendered (overlays included: a cycle or a bad patch fails here).
const crds = kserveCrds(root);
const documented = documentedKustomizations(root);
for (const dir of documented) {
  if (!existsSync(join(root, dir, 'kustomization.yaml'))) check(`${dir} (named in the docs)`, () => `the docs apply -k ${dir}, which holds no kustomization.yaml`);
}
for (const dir of [...new Set([...documented, ...kustomizationsUnder(root, 'deploy')])].sort()) {
  if (!existsSync(join(root, dir, 'kustomization.yaml'))) continue;
  const { objects, problems } = await checkKustomization(join(root, dir), crds);
  check(`${dir} (kubectl kustomize, ${objects} objects)`, () => problems.join('\n') || undefined);
}

check('the gRPC port (Dockerfile, Compose, Kubernetes, KServe)', () => grpcPortProblems(root).join('\n') || undefined);

const workflows = join(root, '.github', 'workflows');
for (const file of readdirSync(workflows).filter((f) => /\.ya?ml$/.test(f))) {
  check(`.github/workflows/${file} (action-validator)`, () => tool(bin('action-validator'), [join(workflows, file)]));
}

if (failures.length > 0) {
  console.error(`\n${failures.length} deployment artifact(s) failed validation`);
  process.exit(1);
}
console.log('\nall deployment artifacts are valid');
