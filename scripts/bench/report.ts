/** The report: a table of the load runs, the ratios each phase supports, written as results.md. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { duration, log, results, resultsFile, RUNTIMES, values, type LoadResult } from './context.js';
import { fmt, median, ok, table } from './harness.js';
import { flopsPerImage, peakShare } from './phases/ceiling.js';
import { STAGE_FORMS, stageMedians } from './phases/stages.js';

export async function report(): Promise<void> {
  const rows: [string, LoadResult][] = [
    ...Object.entries(results.service).map(([k, r]): [string, LoadResult] => [`service ${k.replace(/-\d+$/, '')}`, r]),
    ...Object.values(results.naive).map((r): [string, LoadResult] => ['naive (tfjs, main thread, batch 1)', r]),
    ...Object.entries(results.threading ?? {}).map(([k, r]): [string, LoadResult] => [`onnx ${k.replace(/-\d+$/, '')}`, r]),
  ];
  const s32 = results.service['onnx-32'];
  const t32 = results.service['tfjs-32'];
  const n32 = results.naive['32'];
  const ratios: string[] = [];
  const ce = results.ceiling ?? {};
  if (ce.onnx && ce.tfjs) ratios.push(`engine ceiling, ONNX Runtime ÷ TF.js (same weights): ${(ce.onnx.imagesPerSecond / ce.tfjs.imagesPerSecond).toFixed(2)}×`);
  if (s32 && t32) ratios.push(`service at concurrency 32, ONNX Runtime ÷ TF.js, single runs of the table: ${(ok(s32) / ok(t32)).toFixed(2)}×`);
  for (const runtime of RUNTIMES) {
    const s = results.service[`${runtime}-32`];
    const c = ce[runtime];
    if (s && c) ratios.push(`${runtime}: service ÷ ceiling at concurrency 32: ${(ok(s) / duration / c.imagesPerSecond).toFixed(2)}`);
  }
  if (s32 && n32) ratios.push(`service (onnx) ÷ naive at concurrency 32: ${(ok(s32) / ok(n32)).toFixed(2)}`);
  const cmp = results.baseline;
  if (cmp && cmp.service.length > 0 && cmp.baseline.length > 0) {
    ratios.push(
      `service ÷ baseline (${cmp.dir}), /predict multipart JPEG at concurrency 32, median of ${cmp.service.length} alternating runs: ${(median(cmp.service) / median(cmp.baseline)).toFixed(2)} (this code ${fmt(cmp.service)} req/s; baseline ${fmt(cmp.baseline)} req/s)`,
    );
  }
  const v2 = cmp?.v2;
  if (cmp && v2 && v2.service.length > 0 && v2.baseline.length > 0) {
    ratios.push(
      `service ÷ baseline (${cmp.dir}), V2 binary UINT8 pixels at concurrency 32, median of ${v2.service.length} alternating runs: ${(median(v2.service) / median(v2.baseline)).toFixed(2)} (this code ${fmt(v2.service)} req/s; baseline ${fmt(v2.baseline)} req/s)`,
    );
  }
  for (const form of ['predict', 'v2']) {
    const mine = cmp?.cpuMs?.[`service-${form}`];
    const theirs = cmp?.cpuMs?.[`baseline-${form}`];
    if (mine?.length && theirs?.length) {
      ratios.push(`server CPU per request, ${form}, median: this code ${median(mine).toFixed(2)} ms (${mine.join(', ')}), baseline ${median(theirs).toFixed(2)} ms (${theirs.join(', ')}): ${(median(mine) / median(theirs)).toFixed(2)}×`);
    }
  }
  const rr = results.runtimeRounds;
  if (rr && rr.tfjs.length > 0 && rr.onnx.length > 0) {
    ratios.push(
      `service at concurrency 32, ONNX Runtime ÷ TF.js, median of ${rr.onnx.length} alternating rounds: ${(median(rr.onnx) / median(rr.tfjs)).toFixed(2)}× (onnx ${fmt(rr.onnx)} req/s; tfjs ${fmt(rr.tfjs)} req/s)`,
    );
    if (rr.p50c1) ratios.push(`p50 at concurrency 1, median of the rounds: onnx ${median(rr.p50c1.onnx)} ms (${rr.p50c1.onnx.join(', ')}), tfjs ${median(rr.p50c1.tfjs)} ms (${rr.p50c1.tfjs.join(', ')})`);
  }
  const pr = results.protocols;
  if (pr && Object.keys(pr.rps).length > 0) {
    const native = pr.rps['predict multipart JPEG'];
    for (const [name, xs] of Object.entries(pr.rps)) {
      const vs = native && name !== 'predict multipart JPEG' ? `; ${(median(xs) / median(native)).toFixed(2)}× /predict multipart` : '';
      ratios.push(`protocols, concurrency 32, onnx, median of ${xs.length} alternating rounds: ${name} ${median(xs).toFixed(0)} req/s (${fmt(xs)}), p50 ${median(pr.p50[name]!)} ms, non-200 or errors ${pr.errors[name] ?? 0}${vs}`);
    }
  }
  const gr = results.grpc;
  if (gr && Object.keys(gr.rps).length > 0) {
    const rest = 'v2 binary UINT8 (REST)';
    for (const [name, xs] of Object.entries(gr.rps)) {
      const vs = gr.rps[rest] && name !== rest ? `; ${(median(xs) / median(gr.rps[rest])).toFixed(2)}× the answers/s and ${(median(gr.cpuMs[name]!) / median(gr.cpuMs[rest]!)).toFixed(2)}× the CPU per answer of REST` : '';
      ratios.push(
        `grpc, concurrency 32, onnx, median of ${xs.length} alternating rounds: ${name} ${median(xs).toFixed(0)} answers/s (${fmt(xs)}), p50 ${median(gr.p50[name]!)} ms, server CPU ${median(gr.cpuMs[name]!).toFixed(2)} ms per answer, errors ${gr.errors[name] ?? 0}${vs}`,
      );
    }
  }
  const ho = results.hosts;
  if (ho && ho.rps.threads && ho.rps.processes) {
    const m = (xs: Record<string, number[]>, k: string): number => median(xs[k] ?? []);
    for (const k of ['threads', 'processes']) {
      ratios.push(
        `hosts, onnx, median of ${ho.rps[k]!.length} alternating rounds: ${k}: ready in ${m(ho.startMs, k).toFixed(0)} ms, idle PSS ${m(ho.idlePssMb, k)} MB, ${m(ho.rps, k).toFixed(0)} req/s at c32 (${fmt(ho.rps[k]!)}), ${m(ho.cpuMs, k).toFixed(2)} ms CPU per request, p50 at c1 ${m(ho.p50c1Ms, k)} ms, errors ${ho.errors[k] ?? 0}`,
      );
    }
    ratios.push(
      `hosts, processes ÷ threads: ${(m(ho.rps, 'processes') / m(ho.rps, 'threads')).toFixed(2)}× req/s, ${(m(ho.cpuMs, 'processes') / m(ho.cpuMs, 'threads')).toFixed(2)}× CPU per request, ${(m(ho.p50c1Ms, 'processes') / m(ho.p50c1Ms, 'threads')).toFixed(2)}× p50 at c1, ${(m(ho.idlePssMb, 'processes') / m(ho.idlePssMb, 'threads')).toFixed(2)}× idle PSS`,
    );
  }
  const tra = results.traffic;
  if (tra && Object.keys(tra.p50).length > 0) {
    for (const l of ['rate50', 'c1', 'c8']) {
      const none = tra.p50[`none-${l}`];
      const shadow = tra.p50[`shadow-${l}`];
      if (!none || !shadow) continue;
      const what = l === 'rate50' ? '50 requests/s' : `closed loop at concurrency ${l.slice(1)}`;
      ratios.push(
        `traffic, ${what}, median of ${none.length} alternating rounds: primary p50 ${median(none)} ms without shadow (${none.join(', ')}), ${median(shadow)} ms with every request mirrored (${shadow.join(', ')}); p99 ${median(tra.p99[`none-${l}`]!)} vs ${median(tra.p99[`shadow-${l}`]!)} ms; ${median(tra.rps[`none-${l}`]!).toFixed(0)} vs ${median(tra.rps[`shadow-${l}`]!).toFixed(0)} req/s; shadow copies compared ${tra.shadow?.[`compared-${l}`] ?? 0}, dropped ${tra.shadow?.[`dropped-${l}`] ?? 0}`,
      );
    }
  }
  const fl = results.fleet;
  if (fl && fl.rps.direct?.length) {
    const m = (k: string): number => median(fl.rps[k] ?? [0]);
    ratios.push(
      `fleet, tabular predict at concurrency 32, median of ${fl.rps.direct.length} alternating rounds: one replica direct ${m('direct').toFixed(0)} req/s (${fmt(fl.rps.direct)}); through nginx to 1 replica ${m('lb1').toFixed(0)} (${(m('lb1') / m('direct')).toFixed(2)}× direct), 2 replicas ${m('lb2').toFixed(0)} (${(m('lb2') / m('direct')).toFixed(2)}×), 3 replicas ${m('lb3').toFixed(0)} (${(m('lb3') / m('direct')).toFixed(2)}×); p50 ${['direct', 'lb1', 'lb2', 'lb3'].map((k) => median(fl.p50[k] ?? [0])).join(' / ')} ms; errors ${JSON.stringify(fl.errors)}`,
    );
  }
  for (const [how, ms] of Object.entries(fl?.propagationMs ?? {})) {
    if (ms.length) ratios.push(`fleet, a traffic policy set on one replica served by all three, ${how === 'redis' ? 'Redis notices' : `polling every ${fl!.pollIntervalS} s, no Redis`}: median ${median(ms)} ms, max ${Math.max(...ms)} ms over ${ms.length} changes`);
  }
  const s8 = results.service['onnx-8'];
  // A closed loop of c clients: mean latency = c ÷ throughput (Little's law), whatever the server does.
  if (s8) ratios.push(`concurrency 8 is a closed loop: mean latency = 8 ÷ ${(ok(s8) / duration).toFixed(0)} req/s = ${((8 / (ok(s8) / duration)) * 1000).toFixed(1)} ms`);
  function cacheReport(): string[] {
    const c = results.cache ?? {};
    const q = results.sequential ?? {};
    const rows = Object.entries(c).map(([k, r]): [string, LoadResult] => [`cache ${k.replace(/-\d+$/, '')}`, r]);
    if (rows.length === 0) return [];
    const lines = ['', 'Prediction cache (repeated image = hit path; distinct images = miss path):', '', table(rows), ''];
    for (const store of ['memory', 'redis']) {
      const hit = c[`${store}-hit-32`];
      const miss = c[`${store}-miss-32`];
      if (hit && miss) lines.push(`- ${store} cache: hit ÷ miss throughput at concurrency 32: ${(ok(hit) / ok(miss)).toFixed(1)}×`);
      const sh = q[`${store}-hit`];
      const sm = q[`${store}-miss`];
      if (sh && sm) lines.push(`- ${store} cache, sequential keep-alive: hit p50 ${sh.p50Ms} ms (p99 ${sh.p99Ms}), miss p50 ${sm.p50Ms} ms (p99 ${sm.p99Ms})`);
    }
    const scrape = q['metrics-scrape'];
    const json = q['metrics-json'];
    if (scrape) lines.push(`- /metrics scrape, sequential: p50 ${scrape.p50Ms} ms, p99 ${scrape.p99Ms} ms (JSON summary: p50 ${json?.p50Ms} ms, p99 ${json?.p99Ms} ms)`);
    return lines;
  }

  function textReport(): string[] {
    const t = results.text ?? {};
    const rows = Object.entries(t).map(([k, r]): [string, LoadResult] => [`text ${k.replace(/-\d+$/, '')}`, r]);
    if (rows.length === 0) return [];
    const lines = ['', `Spam filter, a ${Object.values(t)[0]!.bytes}-byte e-mail (cache off):`, '', table(rows), ''];
    for (const [k, r] of Object.entries(t)) lines.push(`- text ${k}: ${(ok(r) / duration).toFixed(0)} req/s, p50 ${r.p50} ms, ${r.cpuMsPerRequest} ms of server CPU per request`);
    return lines;
  }

  function stagesReport(): string[] {
    const st = results.stages;
    if (!st?.service) return [];
    const mine = st.service;
    const theirs = st.baseline ?? {};
    const r2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '-');
    const lines = [
      '',
      `What a request costs, form by form (ONNX Runtime; medians of ${mine['/health']?.rps.length ?? 0} rounds${values.baseline ? `, alternating with the baseline ${values.baseline}` : ''}; CPU is the server process's, all threads, per request; inference is the runtime's own time):`,
      '',
      '| form | req/s c32 | p50 c1 ms | CPU ms/request | inference ms | everything else ms | max RSS MB | baseline req/s | baseline p50 c1 ms | baseline CPU ms | baseline everything else ms | baseline max RSS MB | throughput ÷ baseline |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ];
    let estimated = false;
    for (const form of STAGE_FORMS) {
      const m = mine[form];
      if (!m) continue;
      const a = stageMedians(m);
      const b = theirs[form] ? stageMedians(theirs[form]) : undefined;
      // A baseline without the inference threads' counter: the same model's inference as measured here.
      let bOther = b?.otherCpuMs ?? Number.NaN;
      if (b && !Number.isFinite(bOther) && Number.isFinite(a.inferenceCpuMs)) {
        bOther = b.cpuMs - a.inferenceCpuMs;
        estimated = true;
      }
      lines.push(
        `| ${form} | ${a.rps.toFixed(0)} | ${a.p50c1Ms.toFixed(2)} | ${r2(a.cpuMs)} | ${r2(a.inferenceCpuMs)} | ${r2(a.otherCpuMs)} | ${a.rssMb} | ${b ? b.rps.toFixed(0) : '-'} | ${b ? b.p50c1Ms.toFixed(2) : '-'} | ${b ? r2(b.cpuMs) : '-'} | ${b ? r2(bOther) : '-'} | ${b ? b.rssMb : '-'} | ${b ? (a.rps / b.rps).toFixed(2) : '-'} |`,
      );
    }
    if (estimated) lines.push('', "The baseline does not count its inference threads' CPU: its \"everything else\" is its CPU per request less this server's inference for the same form (same model, runtime and load).");
    const errors = STAGE_FORMS.reduce((n, f) => n + (mine[f]?.errors ?? 0) + (theirs[f]?.errors ?? 0), 0);
    lines.push('', `Non-2xx answers, errors and timeouts over all stage runs: ${errors}.`);
    return lines;
  }

  const peak = results.machine.peak!;
  const ceilingLines = RUNTIMES.flatMap((r) => {
    const c = ce[r];
    return c ? [`- ${r}: **${c.imagesPerSecond} images/s** (${c.workers} worker thread(s)${c.intraOpThreads ? `, ${c.intraOpThreads} intra-op thread each` : ''}, batch ${c.batch}, no HTTP) = ${((c.imagesPerSecond * flopsPerImage) / 1e9).toFixed(0)} GFLOP/s = ${(peakShare(c.imagesPerSecond) * 100).toFixed(1)} % of the FP32 peak`] : [];
  });
  const profileLines = [
    ...(results.profile ? ['', 'CPU profile of the server at concurrency 32 on ONNX Runtime (self time, all threads):', '', ...results.profile.lines] : []),
    ...(results.profileBaseline ? ['', `The same profile of the baseline (${values.baseline ?? 'another revision'}):`, '', ...results.profileBaseline.lines] : []),
  ];
  const md = [
    // Phases not run (--phases) leave their parts out.
    ...(ceilingLines.length > 0
      ? [`Engine ceiling, same CIFAR-10 weights (${(flopsPerImage / 1e6).toFixed(1)} MFLOP per image):`, '', ...ceilingLines, `- FP32 peak: ${peak.gflops.toFixed(0)} GFLOP/s = ${peak.derivation}`, '']
      : []),
    ...(rows.length > 0 ? [table(rows), ''] : []),
    ...ratios.map((r) => `- ${r}`),
    ...profileLines,
    ...cacheReport(),
    ...textReport(),
    ...stagesReport(),
    ...(results.soak ? [`- soak: ${results.soak.seconds} s at concurrency 32, ${results.soak.rps} req/s, RSS ${results.soak.rssMb[5]} → ${results.soak.rssMb.at(-1)} MB (drift ${results.soak.driftPct}%)`] : []),
    '',
    `${results.machine.cpus} CPUs, Node ${results.machine.node}; ${duration} s per run; load generator (autocannon) on the same machine; 32×32 JPEG uploads as multipart.`,
  ].join('\n');
  await writeFile(join(values.out, 'results.md'), `${md}\n`);
  console.log(`\n${md}\n`);
  log(`wrote ${resultsFile} and ${join(values.out, 'results.md')}`);
}
