/**
 * SVG charts for bench/results/: latency percentiles per system (grouped
 * horizontal bars on a log scale, so 10 ms and 10 s both read). Plain SVG,
 * no library: a chart is a few rectangles and labels.
 */

export interface LatencyRow {
  system: string;
  p50: number;
  p99: number;
  'p99.9'?: number;
}

const COLORS = { p50: '#2b6cb0', p99: '#c05621', 'p99.9': '#9b2c2c' } as const;

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * @example writeFileSync('bench/results/overload.svg', latencyChart('overload, 1000 clients', rows))
 */
export function latencyChart(title: string, rows: LatencyRow[], subtitle = ''): string {
  const keys = (['p50', 'p99', 'p99.9'] as const).filter((k) => rows.some((r) => Number.isFinite(r[k] ?? NaN)));
  const values = rows.flatMap((r) => keys.map((k) => r[k] ?? NaN)).filter((v) => Number.isFinite(v) && v > 0);
  const min = Math.max(0.1, Math.min(...values) / 2);
  const max = Math.max(...values) * 1.5;
  const left = Math.min(320, 20 + 7 * Math.max(...rows.map((r) => r.system.length)));
  const width = left + 590;
  const plot = width - left - 70;
  const barH = 12;
  const groupH = keys.length * (barH + 3) + 14;
  const top = 56;
  const height = top + rows.length * groupH + 40;
  const x = (v: number) => left + (plot * Math.log10(v / min)) / Math.log10(max / min);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="bold">${escape(title)}</text>`,
    `<text x="12" y="40" fill="#555">${escape(subtitle)}</text>`,
  ];
  for (const tick of [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000].filter((t) => t >= min && t <= max)) {
    parts.push(`<line x1="${x(tick)}" y1="${top - 6}" x2="${x(tick)}" y2="${height - 30}" stroke="#ddd"/>`);
    parts.push(`<text x="${x(tick)}" y="${height - 16}" text-anchor="middle" fill="#555">${tick >= 1000 ? `${tick / 1000} s` : `${tick} ms`}</text>`);
  }
  rows.forEach((row, i) => {
    const y0 = top + i * groupH;
    parts.push(`<text x="${left - 8}" y="${y0 + groupH / 2}" text-anchor="end" dominant-baseline="middle">${escape(row.system)}</text>`);
    keys.forEach((key, j) => {
      const v = row[key];
      if (v === undefined || !Number.isFinite(v) || v <= 0) return;
      const y = y0 + j * (barH + 3);
      parts.push(`<rect x="${left}" y="${y}" width="${Math.max(1, x(v) - left)}" height="${barH}" fill="${COLORS[key]}"><title>${escape(`${row.system} ${key} ${v.toFixed(1)} ms`)}</title></rect>`);
      parts.push(`<text x="${x(v) + 4}" y="${y + barH - 2}" fill="#333">${key} ${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ms</text>`);
    });
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
