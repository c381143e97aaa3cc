import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF, planRestart } from './backoff.js';

describe('planRestart', () => {
  it('restarts a process that was ready and up long enough at once, forgetting earlier failures', () => {
    expect(planRestart({ failures: 7, becameReady: true, uptimeMs: 2_000 })).toEqual({ delayMs: 0, failures: 0, crashLooping: false });
  });

  it('doubles the delay for each consecutive early death, up to the ceiling', () => {
    let failures = 0;
    const delays: number[] = [];
    for (let i = 0; i < 10; i++) {
      const plan = planRestart({ failures, becameReady: false, uptimeMs: 10 });
      delays.push(plan.delayMs);
      failures = plan.failures;
    }
    expect(delays).toEqual([250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  });

  it('counts a death right after becoming ready as a failure', () => {
    expect(planRestart({ failures: 0, becameReady: true, uptimeMs: 100 }).failures).toBe(1);
  });

  it('reports a crash loop from the fifth consecutive failure', () => {
    const plans = [0, 1, 2, 3, 4].map((failures) => planRestart({ failures, becameReady: false, uptimeMs: 0 }).crashLooping);
    expect(plans).toEqual([false, false, false, false, true]);
    expect(DEFAULT_BACKOFF.crashLoopAfter).toBe(5);
  });

  it('never trips on kills every few seconds of a serving process', () => {
    let failures = 0;
    for (let i = 0; i < 100; i++) {
      const plan = planRestart({ failures, becameReady: true, uptimeMs: 3_000 });
      expect(plan.crashLooping).toBe(false);
      failures = plan.failures;
    }
  });
});
