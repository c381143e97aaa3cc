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

/** mulberry32: a small seeded PRNG, so statistical tests give the same answer every run. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function countPicks(pick: () => FakeServer | undefined, n: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const url = pick()?.url ?? 'none';
    counts[url] = (counts[url] ?? 0) + 1;
  }
  return counts;
}
