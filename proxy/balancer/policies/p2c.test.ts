import { describe, expect, it } from 'vitest';
import { PowerOfTwoChoices } from './p2c.js';
import { countPicks, fake, seeded } from './testing.js';

describe('PowerOfTwoChoices', () => {
  it('splits evenly between two equal servers (±3 % over 10,000 picks)', () => {
    const policy = new PowerOfTwoChoices(seeded(1));
    const servers = [fake('a'), fake('b')];
    const counts = countPicks(() => policy.pick(servers), 10_000);
    expect(Math.abs(counts.a! / 10_000 - 0.5)).toBeLessThan(0.03);
  });

  it('always takes the cheaper of the two it samples', () => {
    const policy = new PowerOfTwoChoices(seeded(2));
    const servers = [fake('slow', { latencyEwmaMs: 100 }), fake('busy', { inflight: 5, latencyEwmaMs: 10 }), fake('good', { latencyEwmaMs: 10 })];
    const counts = countPicks(() => policy.pick(servers), 10_000);
    // Costs: slow 1×100 = 100, busy 6×10 = 60, good 1×10 = 10. Of the three pairs, good wins two, busy one.
    expect(counts.good! / 10_000).toBeCloseTo(2 / 3, 1);
    expect(counts.busy! / 10_000).toBeCloseTo(1 / 3, 1);
    expect(counts.slow).toBeUndefined();
  });
});
