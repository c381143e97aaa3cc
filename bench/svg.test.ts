import { describe, expect, it } from 'vitest';
import { latencyChart, throughputChart } from './svg.js';

describe('latencyChart', () => {
  it('draws one bar per system and percentile, labelled, and escapes names', () => {
    const svg = latencyChart('overload <1000>', [{ system: 'portico', p50: 12, p99: 900 }, { system: 'nginx & co', p50: 4000, p99: 12_000 }]);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<rect x=/g)).toHaveLength(4);
    expect(svg).toContain('overload &lt;1000&gt;');
    expect(svg).toContain('nginx &amp; co');
    expect(svg).toContain('p99 900 ms');
  });
});

describe('throughputChart', () => {
  it('draws a bar per entry with its value and its limit', () => {
    const svg = throughputChart('scaling', [{ label: '1 backend', value: 35.5, limit: 36.4 }, { label: '2 backends', value: 66.1, limit: 72.7 }]);
    expect(svg.match(/<rect x=/g)).toHaveLength(2);
    expect(svg).toContain('limit 72.7');
    expect(svg).toContain('66.1');
  });
});
