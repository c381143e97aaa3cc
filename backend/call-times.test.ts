import { describe, expect, it } from 'vitest';
import { CallTimes, OVERDUE_FACTOR, OVERDUE_MIN_MS } from './call-times.js';

describe('CallTimes', () => {
  it('gives no deadline before it has seen enough calls', () => {
    const times = new CallTimes();
    for (let i = 0; i < 7; i++) times.record(10);
    expect(times.overdueAfterMs()).toBeUndefined();
  });

  it('takes the median, so one dear call in ten does not move the deadline', () => {
    const times = new CallTimes();
    for (let i = 0; i < 32; i++) times.record(i % 10 === 9 ? 1000 : 10);
    expect(times.overdueAfterMs()).toBe(OVERDUE_FACTOR * 10);
  });

  it('forgets old calls and never goes under the floor', () => {
    const times = new CallTimes();
    for (let i = 0; i < 32; i++) times.record(100);
    for (let i = 0; i < 32; i++) times.record(0.5);
    expect(times.overdueAfterMs()).toBe(OVERDUE_MIN_MS);
  });
});
