/**
 * The server's footprint with its bundled models, as `npm start` runs it (built, default
 * settings but for the host kind and ports, gRPC on): how long from spawn until /ready answers 200; the whole
 * process tree's memory idle (sum of proportional set sizes, so shared pages count once); and
 * that memory over repeated admin unload/load cycles of the CIFAR-10 model (the largest), as
 * an operator reloading models would cause, without --expose-gc.
 *
 *   npm run footprint -- [--rounds 5] [--cycles 200] [--hosts processes,threads] [--baseline DIR] [--out reports/footprint] [--resume]
 *
 * --baseline names another checkout (built, with its node_modules) measured as `before`, with
 * its own defaults. Start-ups alternate between the variants each round. Results are saved after every round
 * and every 10 cycles; --resume goes on from the saved file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { startFlags, stopServer, treePssMb, waitUntilReady } from './lib/server-process.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    cycles: { type: 'string', default: '200' },
    hosts: { type: 'string', default: 'processes,threads' },
    baseline: { type: 'string' },
    model: { type: 'string', default: 'cifar10' },
    port: { type: 'string', default: '8193' },
    'grpc-port': { type: 'string', default: '8194' },
    out: { type: 'string', default: 'reports/footprint' },
    resume: { type: 'boolean', default: false },
  },
});
const rounds = Number(values.rounds);
const cycles = Number(values.cycles);
/** What is measured: this checkout with each host kind, and the baseline checkout as it is. */
interface Variant {
  name: string;
  cwd: string;
  env: Record<string, string>;
}
const variants: Variant[] = [
  ...values.hosts.split(',').map((k) => ({ name: k.trim(), cwd: '.', env: { INFERENCE_HOSTS: k.trim() } })),
  ...(values.baseline ? [{ name: 'before', cwd: values.baseline, env: {} }] : []),
];
const kinds = variants.map((v) => v.name);
const base = `http://127.0.0.1:${values.port}`;
const ADMIN_KEY = 'footprint-admin-key';
const file = join(values.out, 'results.json');

interface Results {
  startMs: Record<string, number[]>;
  idlePssMb: Record<string, number[]>;
  /** Tree PSS after each load/unload cycle, by host kind. */
  cyclePssMb: Record<string, number[]>;
}
const results: Results = values.resume && existsSync(file) ? (JSON.parse(await readFile(file, 'utf8')) as Results) : { startMs: {}, idlePssMb: {}, cyclePssMb: {} };
const save = async (): Promise<void> => {
  await mkdir(values.out, { recursive: true });
  await writeFile(file, JSON.stringify(results, null, 2));
};

async function start(kind: string): Promise<{ child: ChildProcess; ms: number }> {
  const variant = variants.find((v) => v.name === kind)!;
  const started = performance.now();
  const child = spawn(process.execPath, [...startFlags(variant.cwd), 'dist/server.js'], {
    cwd: variant.cwd,
    env: { ...process.env, PORT: values.port, HOST: '127.0.0.1', GRPC_PORT: values['grpc-port'], LOG_LEVEL: 'warn', ADMIN_API_KEYS: ADMIN_KEY, MALLOC_ARENA_MAX: '2', ...variant.env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    await waitUntilReady(base, 60_000, 5);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return { child, ms: performance.now() - started };
}

const admin = async (action: 'load' | 'unload'): Promise<void> => {
  const res = await fetch(`${base}/v1/models/${values.model}/${action}`, { method: 'POST', headers: { 'x-api-key': ADMIN_KEY } });
  const body = (await res.json()) as { versions?: { state: string }[] };
  if (res.status !== 200 || (action === 'load' && body.versions?.[0]?.state !== 'AVAILABLE')) throw new Error(`${action} ${values.model}: ${res.status} ${JSON.stringify(body)}`);
};
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

for (let i = Math.min(...kinds.map((k) => results.startMs[k]?.length ?? 0)); i < rounds; i++) {
  for (const kind of i % 2 === 0 ? kinds : [...kinds].reverse()) {
    if ((results.startMs[kind]?.length ?? 0) > i) continue;
    const { child, ms } = await start(kind);
    try {
      // Settled: the first collections and the allocators' first trims have run.
      await sleep(3000);
      const pss = treePssMb(child.pid!);
      (results.startMs[kind] ??= []).push(Math.round(ms));
      (results.idlePssMb[kind] ??= []).push(pss);
      console.log(`start-up ${kind} (round ${i + 1} of ${rounds}): ready in ${Math.round(ms)} ms, idle tree PSS ${pss} MB`);
      await save();
    } finally {
      await stopServer(child);
    }
  }
}

for (const kind of kinds) {
  const done = results.cyclePssMb[kind]?.length ?? 0;
  if (done >= cycles) continue;
  // A resumed run starts a fresh server: its cycles start again.
  const trace: number[] = (results.cyclePssMb[kind] = []);
  const { child } = await start(kind);
  const bar = new cliProgress.SingleBar({ format: `cycles ${kind} [{bar}] {value}/{total} tree PSS {pss} MB` }, cliProgress.Presets.shades_classic);
  bar.start(cycles, 0, { pss: treePssMb(child.pid!) });
  try {
    for (let c = 0; c < cycles; c++) {
      await admin('unload');
      await admin('load');
      trace.push(treePssMb(child.pid!));
      bar.update(c + 1, { pss: trace.at(-1) });
      if ((c + 1) % 10 === 0) await save();
    }
  } finally {
    bar.stop();
    await stopServer(child);
  }
  await save();
}

console.log('\nwith the bundled models, npm start as shipped:');
for (const kind of kinds) {
  const trace = results.cyclePssMb[kind] ?? [];
  // The first cycles fill the allocators' pools; growth is read from cycle 20 on.
  const from = trace[Math.min(19, trace.length - 1)] ?? Number.NaN;
  const tail = trace.slice(19);
  const spread = tail.length > 0 ? Math.max(...tail) - Math.min(...tail) : Number.NaN;
  console.log(
    `  ${kind}: ready in ${median(results.startMs[kind] ?? [])} ms (median of ${results.startMs[kind]?.length ?? 0}), idle tree PSS ${median(results.idlePssMb[kind] ?? [])} MB; ` +
      `over ${trace.length} unload/load cycles of ${values.model}: ${trace[0]} MB after the first, ${from} MB after the 20th, ${trace.at(-1)} MB after the last (${(trace.at(-1)! - from).toFixed(0)} MB; samples from the 20th on span ${spread} MB)`,
  );
}
