/**
 * Static checks of deploy/: the Grafana dashboard parses, and every metric its
 * queries name is one Portico exports (docs/metrics.md is generated from the code).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers.js';

describe('deploy/grafana/portico.json', () => {
  const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy/grafana/portico.json'), 'utf8')) as {
    panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
  };
  const documented = readFileSync(join(ROOT, 'docs/metrics.md'), 'utf8');

  it('has the panels the issue asks for', () => {
    const titles = dashboard.panels.map((p) => p.title.toLowerCase()).join(' | ');
    for (const topic of ['requests per second by code', 'latency', 'queue', 'in flight', 'shed', 'cache hit ratio', 'restarts']) {
      expect(titles).toContain(topic);
    }
  });

  it('queries only metrics Portico exports (the cache metrics arrive with the cache)', () => {
    const names = new Set(dashboard.panels.flatMap((p) => p.targets.flatMap((t) => t.expr.match(/portico_[a-z_]+/g) ?? [])));
    const base = (name: string) => name.replace(/_(bucket|sum|count)$/, '');
    const missing = [...names].map(base).filter((n) => !documented.includes(`\`${n}\``) && !n.startsWith('portico_cache_'));
    expect(missing).toEqual([]);
  });
});
