/**
 * A model's pictures, drawn as SVG and rendered to PNG by sharp (librsvg): the confusion
 * matrix, the reliability diagram of a classifier's confidence, and a regressor's error
 * histogram. The model cards and the server's /evaluation figures draw the same SVG.
 */
import sharp from 'sharp';
import type { Evaluation, ReliabilityBin } from './summary.js';

function escape(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}

/** A confusion matrix (rows: true label, columns: predicted). */
export function confusionMatrixSvg(labels: readonly string[], matrix: readonly (readonly number[])[], title: string): string {
  const cell = 48;
  const left = 110;
  const top = 120;
  const k = labels.length;
  const width = left + k * cell + 20;
  const height = top + k * cell + 50;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${escape(title)}</text>`,
    `<text x="${left + (k * cell) / 2}" y="${height - 14}" text-anchor="middle">predicted</text>`,
    `<text x="18" y="${top + (k * cell) / 2}" text-anchor="middle" transform="rotate(-90 18 ${top + (k * cell) / 2})">true label</text>`,
  ];
  matrix.forEach((row, r) => {
    const total = Math.max(1, row.reduce((a, b) => a + b, 0));
    parts.push(`<text x="${left - 6}" y="${top + r * cell + cell / 2 + 4}" text-anchor="end">${escape(labels[r]!)}</text>`);
    row.forEach((count, c) => {
      const share = count / total;
      const shade = Math.round(255 - share * 200);
      const fill = r === c ? `rgb(${shade},${Math.round(255 - share * 120)},${shade})` : `rgb(255,${shade},${shade})`;
      parts.push(`<rect x="${left + c * cell}" y="${top + r * cell}" width="${cell}" height="${cell}" fill="${fill}" stroke="#ccc"/>`);
      parts.push(`<text x="${left + c * cell + cell / 2}" y="${top + r * cell + cell / 2 + 4}" text-anchor="middle" fill="${share > 0.6 ? 'white' : 'black'}">${count}</text>`);
    });
  });
  labels.forEach((l, c) => {
    const x = left + c * cell + cell / 2;
    parts.push(`<text x="${x}" y="${top - 8}" text-anchor="start" transform="rotate(-45 ${x} ${top - 8})">${escape(l)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

/** An SVG picture as PNG. */
export async function svgToPng(svg: string): Promise<Buffer> {
  return sharp(Buffer.from(svg)).png({ compressionLevel: 9 }).toBuffer();
}

const fmt = (v: number, d = 1): string => (v * 100).toFixed(d);

/** The frame of a chart with x and y from 0 to 1 in percent, its grid, and a title. */
function frame(title: string, xLabel: string, yLabel: string, plot: { left: number; top: number; size: number }, width: number, height: number): string[] {
  const { left, top, size } = plot;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escape(title)}</text>`,
    `<text x="${left + size / 2}" y="${top + size + 40}" text-anchor="middle">${escape(xLabel)}</text>`,
    `<text x="18" y="${top + size / 2}" text-anchor="middle" transform="rotate(-90 18 ${top + size / 2})">${escape(yLabel)}</text>`,
  ];
  for (let t = 0; t <= 10; t += 2) {
    const x = left + (t / 10) * size;
    const y = top + size - (t / 10) * size;
    parts.push(`<line x1="${x}" y1="${top}" x2="${x}" y2="${top + size}" stroke="#eee"/>`, `<line x1="${left}" y1="${y}" x2="${left + size}" y2="${y}" stroke="#eee"/>`);
    parts.push(`<text x="${x}" y="${top + size + 18}" text-anchor="middle">${t * 10}</text>`, `<text x="${left - 6}" y="${y + 4}" text-anchor="end">${t * 10}</text>`);
  }
  parts.push(`<rect x="${left}" y="${top}" width="${size}" height="${size}" fill="none" stroke="#888"/>`);
  return parts;
}

/**
 * A reliability diagram: for each confidence bin with answers, the share of them that was
 * right (bars), before and after temperature scaling, against the diagonal a calibrated model
 * lies on; the bars' widths follow the bins, the legend gives each ECE.
 */
export function reliabilityDiagramSvg(bins: { before: readonly ReliabilityBin[]; after?: readonly ReliabilityBin[] }, ece: { before: number; after?: number }, title: string): string {
  const plot = { left: 60, top: 44, size: 360 };
  const width = plot.left + plot.size + 250;
  const height = plot.top + plot.size + 60;
  const parts = frame(title, 'confidence (%)', 'accuracy (%)', plot, width, height);
  const { left, top, size } = plot;
  const x = (v: number): number => left + v * size;
  const y = (v: number): number => top + size - v * size;
  const series = [
    { bins: bins.before, colour: '#d62728', name: `model's own: ECE ${fmt(ece.before)} %`, opacity: 0.35 },
    ...(bins.after && ece.after !== undefined ? [{ bins: bins.after, colour: '#1f77b4', name: `calibrated: ECE ${fmt(ece.after)} %`, opacity: 0.55 }] : []),
  ];
  for (const s of series) {
    for (const b of s.bins) {
      if (b.count === 0) continue;
      parts.push(`<rect x="${x(b.low)}" y="${y(b.accuracy)}" width="${x(b.high) - x(b.low)}" height="${y(0) - y(b.accuracy)}" fill="${s.colour}" fill-opacity="${s.opacity}" stroke="${s.colour}"/>`);
    }
    const points = s.bins.filter((b) => b.count > 0).map((b) => `${x(b.confidence)},${y(b.accuracy)}`);
    if (points.length > 1) parts.push(`<polyline points="${points.join(' ')}" fill="none" stroke="${s.colour}" stroke-width="2"/>`);
    for (const b of s.bins.filter((b) => b.count > 0)) parts.push(`<circle cx="${x(b.confidence)}" cy="${y(b.accuracy)}" r="3" fill="${s.colour}"/>`);
  }
  parts.push(`<line x1="${x(0)}" y1="${y(0)}" x2="${x(1)}" y2="${y(1)}" stroke="#333" stroke-dasharray="5,4"/>`);
  const legend = [...series.map((s) => ({ colour: s.colour, name: s.name })), { colour: '#333', name: 'perfectly calibrated (diagonal)' }];
  legend.forEach((l, i) => {
    const ly = top + 12 + i * 22;
    parts.push(`<rect x="${left + size + 16}" y="${ly - 10}" width="12" height="12" fill="${l.colour}"/>`, `<text x="${left + size + 34}" y="${ly}">${escape(l.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

/** A regressor's held-out errors (prediction − actual) as a histogram, with the interval that holds 90 % of them. */
export function errorHistogramSvg(errors: readonly number[], interval: { low: number; high: number; coverage: number }, title: string): string {
  const width = 620;
  const height = 440;
  const left = 60;
  const top = 64;
  const plotW = 520;
  const plotH = 310;
  const lo = Math.floor(Math.min(...errors, interval.low) * 4) / 4;
  const hi = Math.ceil(Math.max(...errors, interval.high) * 4) / 4 || lo + 0.25;
  const step = 0.25;
  const counts = new Array<number>(Math.max(1, Math.round((hi - lo) / step))).fill(0);
  for (const e of errors) counts[Math.min(counts.length - 1, Math.floor((e - lo) / step))]!++;
  const max = Math.max(1, ...counts);
  const x = (v: number): number => left + ((v - lo) / (hi - lo)) * plotW;
  const y = (c: number): number => top + plotH - (c / max) * plotH;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escape(title)}</text>`,
    `<text x="${left + plotW / 2}" y="${height - 12}" text-anchor="middle">error: prediction − actual</text>`,
    `<text x="18" y="${top + plotH / 2}" text-anchor="middle" transform="rotate(-90 18 ${top + plotH / 2})">rows</text>`,
  ];
  counts.forEach((c, i) => parts.push(`<rect x="${x(lo + i * step) + 1}" y="${y(c)}" width="${x(lo + step) - x(lo) - 2}" height="${top + plotH - y(c)}" fill="#1f77b4" fill-opacity="0.7"/>`));
  for (let v = lo; v <= hi + 1e-9; v += 0.5) parts.push(`<text x="${x(v)}" y="${top + plotH + 18}" text-anchor="middle">${v.toFixed(1)}</text>`);
  const tick = Math.max(1, Math.ceil(max / 5 / 5) * 5);
  for (let c = 0; c <= max; c += tick) parts.push(`<line x1="${left - 4}" y1="${y(c)}" x2="${left + plotW}" y2="${y(c)}" stroke="#eee"/>`, `<text x="${left - 8}" y="${y(c) + 4}" text-anchor="end">${c}</text>`);
  for (const v of [interval.low, interval.high]) parts.push(`<line x1="${x(v)}" y1="${top}" x2="${x(v)}" y2="${top + plotH}" stroke="#d62728" stroke-dasharray="5,4" stroke-width="2"/>`);
  parts.push(`<text x="${(x(interval.low) + x(interval.high)) / 2}" y="${top - 10}" text-anchor="middle" fill="#d62728">${Math.round(interval.coverage * 100)} % of errors: ${interval.low.toFixed(2)} to ${interval.high.toFixed(2)}</text>`);
  parts.push(`<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="#888"/>`, '</svg>');
  return parts.join('');
}

/** The pictures an evaluation draws, by file name: a classifier's confusion matrix and reliability diagram, a regressor's (rounded) confusion matrix and error histogram. */
export function evaluationFigures(evaluation: Evaluation): string[] {
  if (evaluation.task === 'classification') return ['confusion.png', 'reliability.png'];
  return [...(evaluation.rounded ? ['confusion.png'] : []), 'errors.png'];
}

/** One of `evaluationFigures(evaluation)` as PNG: the model card's pictures and the server's are this one drawing. */
export async function drawEvaluationFigure(evaluation: Evaluation, figure: string): Promise<Buffer> {
  const title = `${evaluation.model.name} ${evaluation.model.version}`;
  if (evaluation.task === 'classification') {
    return svgToPng(
      figure === 'confusion.png'
        ? confusionMatrixSvg(evaluation.labels, evaluation.confusion, `${title}: accuracy ${(evaluation.accuracy.value * 100).toFixed(1)} % on ${evaluation.items}`)
        : reliabilityDiagramSvg(evaluation.calibration.bins, { before: evaluation.calibration.eceBefore, after: evaluation.calibration.eceAfter }, `${title}: confidence against accuracy`),
    );
  }
  if (figure === 'confusion.png' && evaluation.rounded) return svgToPng(confusionMatrixSvg(evaluation.rounded.labels, evaluation.rounded.confusion, `${title}: rounded, ${(evaluation.rounded.accuracy.value * 100).toFixed(1)} % exact`));
  return svgToPng(errorHistogramSvg(evaluation.errors.values, evaluation.errors.interval, `${title}: held-out errors`));
}
