/** Fake servers and a seeded random source for policy tests (no I/O). */
import type { Candidate } from './policy.js';

export interface FakeServer extends Candidate {
  url: string;
  weight: number;
  inflight: number;
  latencyEwmaMs: number;
  available: boolean;
}

export function fake(url: string, overrides: Partial<FakeServer> = {}): FakeServer {
  return { url, weight: 1, inflight: 0, latencyEwmaMs: 0, available: true, ...overrides };
}

/** A seeded PRNG, so statistical tests give the same answer every run. */
export { seededRandom as seeded } from '../../../lib/seeded-random.js';

export function countPicks(pick: () => FakeServer | undefined, n: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const url = pick()?.url ?? 'none';
    counts[url] = (counts[url] ?? 0) + 1;
  }
  return counts;
}
