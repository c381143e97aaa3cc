import { describe, expect, it } from 'vitest';
import { countPicks, fake } from './testing.js';
import { WeightedRoundRobin } from './weighted-round-robin.js';

describe('WeightedRoundRobin (smooth)', () => {
  it('spreads weights 5,1,1 as nginx does: a a b a c a a', () => {
    const servers = [fake('a', { weight: 5 }), fake('b'), fake('c')];
    const policy = new WeightedRoundRobin();
    expect(Array.from({ length: 7 }, () => policy.pick(servers)?.url).join(' ')).toBe('a a b a c a a');
  });

  it('gives exact shares over whole cycles', () => {
    const servers = [fake('a', { weight: 3 }), fake('b', { weight: 2 }), fake('c')];
    const policy = new WeightedRoundRobin();
    expect(countPicks(() => policy.pick(servers), 600)).toEqual({ a: 300, b: 200, c: 100 });
  });

  it('forgets servers that left the upstream', () => {
    const policy = new WeightedRoundRobin();
    policy.pick([fake('a'), fake('gone', { weight: 9 })]);
    expect(countPicks(() => policy.pick([fake('a'), fake('b')]), 4)).toEqual({ a: 2, b: 2 });
  });
});
