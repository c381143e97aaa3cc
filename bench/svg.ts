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

export interface ThroughputBar {
  label: string;
  value: number;
  /** What it could be at most (drawn as a tick), e.g. the machine's limit for that many backends. */
  limit?: number;
}

/** Vertical bars of throughput (req/s) with each bar's limit marked: "throughput vs backends". */
export function throughputChart(title: string, bars: ThroughputBar[], subtitle = ''): string {
  const width = 120 + bars.length * 110;
  const height = 320;
  const top = 60;
  const bottom = height - 50;
  const max = Math.max(...bars.map((b) => Math.max(b.value, b.limit ?? 0))) * 1.15;
  const y = (v: number) => bottom - ((bottom - top) * v) / max;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="bold">${escape(title)}</text>`,
    `<text x="12" y="40" fill="#555">${escape(subtitle)}</text>`,
    `<line x1="60" y1="${bottom}" x2="${width - 20}" y2="${bottom}" stroke="#999"/>`,
  ];
  bars.forEach((bar, i) => {
    const x = 80 + i * 110;
    parts.push(`<rect x="${x}" y="${y(bar.value)}" width="60" height="${bottom - y(bar.value)}" fill="#2b6cb0"><title>${escape(`${bar.label}: ${bar.value.toFixed(1)} req/s`)}</title></rect>`);
    parts.push(`<text x="${x + 30}" y="${y(bar.value) + 16}" text-anchor="middle" fill="#fff" font-weight="bold">${bar.value.toFixed(1)}</text>`);
    if (bar.limit !== undefined) {
      parts.push(`<line x1="${x - 8}" y1="${y(bar.limit)}" x2="${x + 68}" y2="${y(bar.limit)}" stroke="#c05621" stroke-width="2" stroke-dasharray="4 3"/>`);
      parts.push(`<text x="${x + 30}" y="${Math.min(y(bar.limit), y(bar.value)) - 6}" text-anchor="middle" fill="#c05621" font-size="11">limit ${bar.limit.toFixed(1)}</text>`);
    }
    parts.push(`<text x="${x + 30}" y="${bottom + 18}" text-anchor="middle">${escape(bar.label)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
