import { describe, expect, it } from 'vitest';
import { LeastOutstanding } from './least-outstanding.js';
import { countPicks, fake } from './testing.js';

describe('LeastOutstanding', () => {
  it('picks the server with the fewest requests in flight', () => {
    const servers = [fake('a', { inflight: 3 }), fake('b', { inflight: 1 }), fake('c', { inflight: 2 })];
    const policy = new LeastOutstanding();
    for (let i = 0; i < 5; i++) expect(policy.pick(servers)?.url).toBe('b');
  });

  it('compares in-flight per unit of weight', () => {
    const servers = [fake('a', { inflight: 2, weight: 4 }), fake('b', { inflight: 1 })];
    expect(new LeastOutstanding().pick(servers)?.url).toBe('a');
  });

  it('takes tied servers in turn instead of always the first', () => {
    const servers = ['a', 'b', 'c'].map((u) => fake(u));
    expect(countPicks(() => new LeastOutstanding().pick(servers), 1)).toEqual({ a: 1 });
    const policy = new LeastOutstanding();
    expect(countPicks(() => policy.pick(servers), 300)).toEqual({ a: 100, b: 100, c: 100 });
  });
});
