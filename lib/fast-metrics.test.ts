import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FastCounter, FastHistogram } from './fast-metrics.js';

/** The same observations through prom-client and through the fast metrics must print the same text. */
describe('fast metrics print exactly what prom-client prints', () => {
  it('counters', async () => {
    const slow = new Registry();
    const fast = new Registry();
    const a = new Counter({ name: 'x_total', help: 'h', labelNames: ['route', 'code'], registers: [slow] });
    const b = new FastCounter('x_total', 'h', ['route', 'code'], fast);
    for (const [route, code, n] of [['api', '200', 1], ['api', '200', 2], ['static', '404', 1], ['api', '503', 5]] as const) {
      a.inc({ route, code }, n);
      b.inc({ route, code }, n);
    }
    expect(await fast.metrics()).toBe(await slow.metrics());
  });

  it('histograms, values on and between bucket bounds', async () => {
    const slow = new Registry();
    const fast = new Registry();
    const buckets = [0.005, 0.01, 0.1, 1];
    const a = new Histogram({ name: 'd_seconds', help: 'h', labelNames: ['route'], buckets, registers: [slow] });
    const b = new FastHistogram('d_seconds', 'h', ['route'], buckets, fast);
    for (const [route, v] of [['api', 0.005], ['api', 0.0051], ['api', 2], ['static', 0.05], ['api', 0]] as const) {
      a.observe({ route }, v);
      b.observe({ route }, v);
    }
    expect(await fast.metrics()).toBe(await slow.metrics());
  });

  it('labels left out print as prom-client prints them', async () => {
    const slow = new Registry();
    const fast = new Registry();
    new Counter({ name: 'y_total', help: 'h', labelNames: ['a', 'b'], registers: [slow] }).inc({ a: '1' });
    new FastCounter('y_total', 'h', ['a', 'b'], fast).inc({ a: '1' });
    expect(await fast.metrics()).toBe(await slow.metrics());
  });
});
