/** A confusion matrix as an SVG picture (rows: true label, columns: predicted). */
function escape(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}

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
