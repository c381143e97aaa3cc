/**
 * docs/metrics.md, generated from the registries themselves, so that the
 * reference cannot drift from the code: `npm run docs:metrics` writes it, and
 * a test fails when the committed file differs from what the code declares.
 */
import type { Registry } from 'prom-client';

export interface RegistrySection {
  title: string;
  where: string;
  registry: Registry;
}

interface MetricLike {
  name: string;
  help: string;
  type: string;
  labelNames?: string[];
}

/** The Markdown reference for these registries (process metrics of Node, from prom-client, are summarised, not listed). */
export async function metricsDoc(sections: RegistrySection[]): Promise<string> {
  const out = [
    '# Metrics',
    '',
    'Generated from the code by `npm run docs:metrics`; a test fails when this file and the code disagree. Every hop also exports Node\'s process metrics (`process_*`, `nodejs_*`) from prom-client, less the three `*_total` gauges that `promtool check metrics` rejects. Durations are in seconds, sizes in bytes; histograms use buckets from 5 ms to 10 s.',
  ];
  for (const section of sections) {
    out.push('', `## ${section.title}`, '', section.where, '', '| name | type | labels | meaning |', '|---|---|---|---|');
    const metrics = section.registry.getMetricsAsArray() as unknown as MetricLike[];
    for (const m of [...metrics].sort((a, b) => a.name.localeCompare(b.name))) {
      if (!m.name.startsWith('portico_')) continue;
      const labels = (m.labelNames ?? []).map((l) => `\`${l}\``).join(', ') || '–';
      out.push(`| \`${m.name}\` | ${m.type} | ${labels} | ${m.help.replace(/\|/g, '\\|')} |`);
    }
  }
  return `${out.join('\n')}\n`;
}
