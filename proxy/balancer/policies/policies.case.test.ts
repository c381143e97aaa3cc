/** One case suite, run against every policy: what any policy must do, whatever its algorithm. */
import { describe, expect, it } from 'vitest';
import { POLICIES, type PolicyName } from './index.js';
import { countPicks, fake, seeded } from './testing.js';

const names = Object.keys(POLICIES) as PolicyName[];
const make = (name: PolicyName) => POLICIES[name]({ balanceFactor: 1.25 }, seeded(7));
let key = 0;
const ctx = () => ({ hashKey: `key-${key++}` });

describe.each(names)('policy %s', (name) => {
  it('returns undefined for an empty upstream', () => {
    expect(make(name).pick([], ctx())).toBeUndefined();
  });

  it('returns undefined when every server is unavailable (down or full)', () => {
    const servers = [fake('a', { available: false }), fake('b', { available: false, inflight: 9 })];
    expect(make(name).pick(servers, ctx())).toBeUndefined();
  });

  it('always returns the one available server', () => {
    const policy = make(name);
    const servers = [fake('a', { available: false }), fake('b'), fake('c', { available: false })];
    for (let i = 0; i < 50; i++) expect(policy.pick(servers, ctx())).toBe(servers[1]);
  });

  it('never returns an unavailable server, and returns elements of the given list', () => {
    const policy = make(name);
    const random = seeded(42);
    const servers = ['a', 'b', 'c', 'd'].map((u) => fake(u));
    for (let i = 0; i < 2000; i++) {
      for (const s of servers) {
        s.available = random() < 0.5;
        s.inflight = Math.floor(random() * 4);
      }
      const picked = policy.pick(servers, ctx());
      if (servers.some((s) => s.available)) expect(servers).toContain(picked);
      else expect(picked).toBeUndefined();
      if (picked) expect(picked.available).toBe(true);
    }
  });

  it('uses every available server', () => {
    const policy = make(name);
    const servers = ['a', 'b', 'c'].map((u) => fake(u));
    expect(Object.keys(countPicks(() => policy.pick(servers, ctx()), 300)).sort()).toEqual(['a', 'b', 'c']);
  });

  it('gives a heavier server at least its share', () => {
    const policy = make(name);
    const servers = [fake('heavy', { weight: 3 }), fake('light')];
    const counts = countPicks(() => policy.pick(servers, ctx()), 4000);
    expect(counts.heavy ?? 0).toBeGreaterThanOrEqual(counts.light ?? 0);
  });
});
