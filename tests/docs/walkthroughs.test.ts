/**
 * The docs' walkthroughs, replayed as written: every ```bash block marked `<!-- walkthrough -->`
 * (it sets itself up, its own server included) or `<!-- walkthrough: server -->` (it talks to
 * the server `npm start` gives on localhost:8000, which this harness starts on the shipped
 * models) runs in bash, on free ports rather than the ones it names (a user's own server, or
 * another test, may hold 8000: each port the block names is moved to a free one), from the repository root, stops at the first failing command, and
 * must print every output the block shows: each comment line that is output (`# {…}`,
 * `# […]`, `#     190 …`: a count, indented as `uniq -c` prints it) is matched, in order, against the lines printed. JSON is compared as
 * values (latencies and request ids aside, numbers to 1e-3); `…` in a shown line stands for
 * text left out.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/app.js';
import { freePort } from '../helpers/net.js';

interface Walkthrough {
  page: string;
  line: number;
  needsServer: boolean;
  script: string;
}

function walkthroughs(): Walkthrough[] {
  const pages = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  const found: Walkthrough[] = [];
  for (const page of pages) {
    const lines = readFileSync(join(ROOT, page), 'utf8').split('\n');
    lines.forEach((text, i) => {
      const mark = /^<!-- walkthrough(: server)? -->$/.exec(text);
      if (!mark || lines[i + 1] !== '```bash') return;
      const end = lines.indexOf('```', i + 2);
      found.push({ page, line: i + 1, needsServer: mark[1] !== undefined, script: lines.slice(i + 2, end).join('\n') });
    });
  }
  return found;
}

/** The output lines a block shows: its comment lines that hold output rather than prose. */
function shownOutputs(script: string): string[] {
  return script
    .split('\n')
    .filter((l) => /^# (\{|\[|\s+\d+ )/.test(l))
    .map((l) => l.slice(2));
}

const VOLATILE = new Set(['latency_ms', 'mean_latency_ms', 'request_id', 'instance']);

function sameValue(shown: unknown, actual: unknown): boolean {
  if (typeof shown === 'number' && typeof actual === 'number') return Math.abs(shown - actual) <= 1e-3 * Math.max(1, Math.abs(shown));
  if (Array.isArray(shown)) return Array.isArray(actual) && shown.length === actual.length && shown.every((v, i) => sameValue(v, actual[i]));
  if (shown !== null && typeof shown === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
    const a = actual as Record<string, unknown>;
    const s = shown as Record<string, unknown>;
    const keys = new Set([...Object.keys(s), ...Object.keys(a)].filter((k) => !VOLATILE.has(k)));
    return [...keys].every((k) => k in s && k in a && sameValue(s[k], a[k]));
  }
  return shown === actual;
}

function matches(shown: string, actual: string): boolean {
  if (shown.includes('…')) {
    let at = 0;
    for (const part of shown.split('…').map((p) => p.trim()).filter(Boolean)) {
      const found = actual.indexOf(part, at);
      if (found < 0) return false;
      at = found + part.length;
    }
    return true;
  }
  try {
    return sameValue(JSON.parse(shown), JSON.parse(actual));
  } catch {
    return shown.trimEnd() === actual.trimEnd();
  }
}

/** Where a block names a port: an address on this machine, or a server's PORT / GRPC_PORT. */
const PORT_MENTION = /\b(localhost:|127\.0\.0\.1:|(?:GRPC_)?PORT=)(\d{4,5})\b/g;

/** The block with every port it names moved to a free one (`ports` maps the ones already moved). */
async function onFreePorts(script: string, ports: Map<string, number>): Promise<string> {
  for (const [, , port] of script.matchAll(PORT_MENTION)) if (!ports.has(port!)) ports.set(port!, await freePort());
  return script.replace(PORT_MENTION, (_, at: string, port: string) => `${at}${ports.get(port)}`);
}

async function run(script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'walkthrough-'));
  writeFileSync(join(dir, 'walkthrough.sh'), `set -eo pipefail\n${script}\n`);
  // Its own process group: whatever it starts (a server) goes with it.
  const child = spawn('bash', [join(dir, 'walkthrough.sh')], { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: 'production' } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    process.kill(-child.pid!, 'SIGTERM');
  } catch {
    // the group has ended
  }
  rmSync(dir, { recursive: true, force: true });
  return { code, stdout, stderr };
}

async function waitReady(url: string, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if ((await fetch(url).then((r) => r.status, () => 0)) === 200) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} never answered 200`);
}

describe('walkthroughs in the docs', () => {
  const all = walkthroughs();
  let server: ChildProcess | undefined;
  // The ports of the server `npm start` gives (8000, gRPC 8081), as the harness runs it.
  const serverPorts = new Map<string, number>();

  beforeAll(async () => {
    if (!all.some((w) => w.needsServer)) return;
    // What npm start runs: a build when a source changed, then the built server.
    expect(spawnSync(process.execPath, ['scripts/build-if-stale.mjs'], { cwd: ROOT, stdio: 'inherit' }).status).toBe(0);
    // The server the README starts (`npm start`: the built server on the bundled models), without a .env's settings.
    const [http, grpc] = [await freePort(), await freePort()];
    serverPorts.set('8000', http).set('8081', grpc);
    server = spawn(process.execPath, ['dist/server.js'], { cwd: ROOT, stdio: 'ignore', env: { ...process.env, PORT: String(http), GRPC_PORT: String(grpc), LOG_LEVEL: 'warn', API_KEYS: '', ADMIN_API_KEYS: '' } });
    await waitReady(`http://localhost:${http}/ready`, 90_000);
  }, 120_000);
  afterAll(() => {
    server?.kill('SIGTERM');
  });

  it('finds the walkthroughs', () => {
    expect(all.map((w) => w.page)).toEqual(expect.arrayContaining(['README.md', 'docs/traffic.md', 'docs/open-inference.md', 'docs/explanations.md']));
  });

  it('use no GNU-only forms in any shell block (the README gives macOS set-up too)', () => {
    const GNU_ONLY = [/base64 -w/, /stat -c/, /readlink -f/, /date -d/, /grep -P/, /xargs -r/, /sed -i (?!'')/];
    const pages = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
    const found = pages.flatMap((page) =>
      [...readFileSync(join(ROOT, page), 'utf8').matchAll(/```bash\n([\s\S]*?)```/g)].flatMap((m) =>
        m[1]!.split('\n').filter((l) => GNU_ONLY.some((g) => g.test(l))).map((l) => `${page}: ${l.trim()}`),
      ),
    );
    expect(found).toEqual([]);
  });

  // Tracked and untracked files, and the root's entries (ignored ones included, as a stray truck-why.png would be).
  const gitStatus = (): string => `${spawnSync('git', ['status', '--porcelain', '--untracked-files=all'], { cwd: ROOT, encoding: 'utf8' }).stdout}\n${readdirSync(ROOT).sort().join(' ')}`;

  for (const w of all) {
    it(`${w.page}:${w.line} runs as written and prints what it shows`, { timeout: 300_000 }, async () => {
      const before = gitStatus();
      const { code, stdout, stderr } = await run(await onFreePorts(w.script, w.needsServer ? serverPorts : new Map()));
      // It leaves nothing in the repository (an example writing a file writes it elsewhere).
      expect(gitStatus()).toBe(before);
      expect(code, `${stderr}\n${stdout}`).toBe(0);
      const lines = stdout.split('\n');
      let at = 0;
      for (const shown of shownOutputs(w.script)) {
        const found = lines.findIndex((l, i) => i >= at && matches(shown, l));
        expect(found, `not printed (after line ${at}): ${shown}\n--- printed:\n${stdout}`).toBeGreaterThanOrEqual(0);
        at = found + 1;
      }
    });
  }
});

describe('the supported Node.js', () => {
  it('is stated in the README as package.json declares it, and this process meets it', () => {
    const engines = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
    const minimum = /^>=(\d+)\.(\d+)$/.exec(engines);
    expect(minimum, engines).not.toBeNull();
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8')).toContain(`Node.js: ${minimum![1]}.${minimum![2]} or later (\`engines\` in package.json)`);
    const [major, minor] = process.versions.node.split('.').map(Number);
    expect(major! > Number(minimum![1]) || (major === Number(minimum![1]) && minor! >= Number(minimum![2]))).toBe(true);
  });
});
