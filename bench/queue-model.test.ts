import { describe, expect, it } from 'vitest';
import { bestMedianRatio, centralQueue, costRankedQueue, openLoopJobs, roundRobin, type OpenLoopMix } from './queue-model.js';

describe('ideal dispatchers', () => {
  // A dear job, then three cheap ones a millisecond apart, on two servers.
  const jobs = [{ at: 0, cost: 100 }, { at: 0, cost: 1 }, { at: 1, cost: 1 }, { at: 2, cost: 1 }];

  it('round-robin parks the third job behind the dear one', () => {
    expect(roundRobin(jobs, 2)).toEqual([100, 1, 100, 1]);
  });

  it('a central queue sends every cheap job to the free server', () => {
    expect(centralQueue(jobs, 2)).toEqual([100, 1, 1, 1]);
  });

  it('a queue ranked by arrival plus cost lets cheap jobs overtake a dear one that came shortly before, not one that came long before', () => {
    // One server busy until 10; a dear job waits from 1, cheap ones come at 2 and at 200.
    const line = [{ at: 0, cost: 10 }, { at: 1, cost: 100 }, { at: 2, cost: 1 }, { at: 200, cost: 1 }];
    expect(centralQueue(line, 1)).toEqual([10, 109, 109, 1]);
    expect(costRankedQueue(line, 1)).toEqual([10, 110, 9, 1]);
    // A dear job ranked at 1 + 100 = 101 goes before a cheap one that arrives at 150 while it waits.
    const late = [{ at: 0, cost: 200 }, { at: 1, cost: 100 }, { at: 150, cost: 1 }];
    expect(costRankedQueue(late, 1)).toEqual([200, 299, 151]);
    expect(costRankedQueue(jobs, 2)).toEqual(centralQueue(jobs, 2));
  });
});

describe('open-loop bound', () => {
  /** 90 % cost 1, 10 % cost 100 on two servers at `load` of their capacity, for `seconds`. */
  const mix = (load: number, seconds: number): OpenLoopMix => ({ rate: (load * 2 * 1000) / 10.9, durationMs: seconds * 1000, warmupMs: 0, dearShare: 0.1, cheapMs: 1, dearMs: 100 });

  it('draws the same arrivals for the same seeds, with the share of dear ones asked for', () => {
    const a = openLoopJobs(mix(0.7, 200), 1, 2);
    expect(openLoopJobs(mix(0.7, 200), 1, 2)).toEqual(a);
    const dear = a.jobs.filter((j) => j.cost === 100).length / a.jobs.length;
    expect(dear).toBeGreaterThan(0.08);
    expect(dear).toBeLessThan(0.12);
    expect(a.jobs.length / 200).toBeCloseTo(128, -1); // 0.7 × 2 / 10.9 ms = 128 a second
  });

  it('puts the best p50 ratio near 0.33 at 70 % load, far lower at 60 % (long runs)', () => {
    const at70 = bestMedianRatio(mix(0.7, 3000), 2, 1, 2);
    expect(at70).toBeGreaterThan(0.28);
    expect(at70).toBeLessThan(0.38);
    expect(bestMedianRatio(mix(0.6, 3000), 2, 1, 2)).toBeLessThan(0.1);
  });
});
