import { describe, expect, it } from 'vitest';
import { RetryBudget } from './retry-budget.js';

describe('RetryBudget', () => {
  it('allows retries up to the ratio of recent requests', () => {
    const now = 100_000;
    const budget = new RetryBudget(0.2, 0, () => now);
    for (let i = 0; i < 100; i++) budget.recordRequest();
    const granted = Array.from({ length: 30 }, () => budget.tryRetry()).filter(Boolean).length;
    expect(granted).toBe(20);
  });

  it('always allows the per-second floor over the window, even with no traffic', () => {
    const budget = new RetryBudget(0.2, 1, () => 0);
    expect(Array.from({ length: 12 }, () => budget.tryRetry()).filter(Boolean).length).toBe(10);
  });

  it('forgets requests and retries older than the 10 s window', () => {
    let now = 50_000;
    const budget = new RetryBudget(0.5, 0, () => now);
    for (let i = 0; i < 10; i++) budget.recordRequest();
    expect(Array.from({ length: 6 }, () => budget.tryRetry()).filter(Boolean).length).toBe(5);
    now += 11_000;
    expect(budget.tryRetry()).toBe(false); // the old requests no longer count
    for (let i = 0; i < 4; i++) budget.recordRequest();
    expect(budget.tryRetry()).toBe(true); // the old retries no longer count either
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(false);
  });
});
