/**
 * Summarize V8 CPU profiles (node --cpu-prof writes one per thread): self time by what the
 * thread was doing, from the script URLs on each sample's stack.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Per thread: milliseconds of self time by category. */
  threads: Record<string, Record<string, number>>;
  lines: string[];
}

const CATEGORIES: [string, (url: string, fn: string) => boolean][] = [
  ['ONNX Runtime', (u) => u.includes('onnxruntime')],
  ['TF.js', (u) => u.includes('@tensorflow')],
  ['image decoding (sharp, JS side)', (u) => u.includes('/sharp/') || u.includes('/preprocessing/')],
  ['HTTP (node:http, fastify, multipart)', (u) => /node:_http|node:net|node:stream|fastify|busboy|light-my-request/.test(u)],
  ['metrics and logging', (u) => /prom-client|pino/.test(u)],
  ['scheduler and pool', (u) => /\/inference\//.test(u)],
];

function categorize(profile: CpuProfile): Record<string, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const cache = new Map<number, string>();
  const categoryOf = (id: number): string => {
    const hit = cache.get(id);
    if (hit) return hit;
    const node = byId.get(id)!;
    const fn = node.callFrame.functionName;
    let cat: string;
    if (fn === '(idle)') cat = 'idle';
    else if (fn === '(garbage collector)') cat = 'garbage collection';
    else if (fn === '(program)') cat = 'native, unattributed';
    else {
      cat = 'other JavaScript';
      // The innermost frame with a category names the work (a native call inherits its caller's).
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        const f = byId.get(at)!.callFrame;
        const found = CATEGORIES.find(([, test]) => test(f.url, f.functionName));
        if (found) {
          cat = found[0];
          break;
        }
      }
    }
    cache.set(id, cat);
    return cat;
  };
  const out: Record<string, number> = {};
  profile.samples.forEach((id, i) => {
    const cat = categoryOf(id);
    out[cat] = (out[cat] ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000;
  });
  return out;
}

export async function summarizeProfiles(dir: string): Promise<ProfileSummary> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile')).sort();
  const threads: Record<string, Record<string, number>> = {};
  for (const f of files) {
    // CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile; thread 0 is the main thread.
    const tid = f.split('.').at(-3);
    const name = tid === '0' ? 'main' : `worker ${tid}`;
    threads[name] = categorize(JSON.parse(await readFile(join(dir, f), 'utf8')) as CpuProfile);
  }
  const lines = ['| thread | busy | self time by category (share of the thread\'s busy time) |', '| --- | ---: | --- |'];
  for (const [name, cats] of Object.entries(threads)) {
    const total = Object.values(cats).reduce((a, b) => a + b, 0);
    const busy = total - (cats.idle ?? 0);
    const parts = Object.entries(cats)
      .filter(([c]) => c !== 'idle')
      .sort((a, b) => b[1] - a[1])
      .map(([c, ms]) => `${c} ${((ms / Math.max(1, busy)) * 100).toFixed(0)} %`);
    lines.push(`| ${name} | ${((busy / Math.max(1, total)) * 100).toFixed(0)} % | ${parts.join(', ')} |`);
  }
  return { threads, lines };
}
