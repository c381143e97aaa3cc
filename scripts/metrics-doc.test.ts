import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../lib/paths.js';
import { docsMetricsText } from './metrics-doc-sources.js';

describe('docs/metrics.md', () => {
  it('documents exactly the metrics the code declares (regenerate with npm run docs:metrics)', async () => {
    const committed = readFileSync(`${PROJECT_ROOT}/docs/metrics.md`, 'utf8');
    expect(committed).toBe(await docsMetricsText());
  });

  it('lists every metric with a name following the conventions (portico_ prefix, base units, _total only on counters)', async () => {
    const rows = (await docsMetricsText()).split('\n').filter((l) => l.startsWith('| `portico_'));
    expect(rows.length).toBeGreaterThan(30);
    for (const row of rows) {
      const [, name, type] = /^\| `([^`]+)` \| (\w+) \|/.exec(row)!;
      expect(name!.endsWith('_total')).toBe(type === 'counter');
      expect(name).not.toMatch(/_(ms|milliseconds|kb|mb)(_|$)/);
    }
  });
});
