import { describe, expect, it } from 'vitest';
import { ClientLimits } from './client-limits.js';

function clock() {
  let t = 1_000_000;
  return { now: () => t, advance: (ms: number) => { t += ms; } };
}
const route = (limits: { rate?: number; burst?: number; concurrent?: number }) => ({ name: 'r', limits: { max_body: 0, ...limits } });

describe('ClientLimits', () => {
  it('admits a burst, then refuses with the time until the next token', () => {
    const c = clock();
    const limits = new ClientLimits(c.now);
    const r = route({ rate: 0.5, burst: 3 });
    expect([1, 2, 3].map(() => limits.admit(r, 'a').ok)).toEqual([true, true, true]);
    const refused = limits.admit(r, 'a');
    expect(refused).toMatchObject({ ok: false, reason: 'rate', retryAfterSeconds: 2 });
    c.advance(1000);
    expect(limits.admit(r, 'a')).toMatchObject({ ok: false, retryAfterSeconds: 1 });
    c.advance(1000);
    expect(limits.admit(r, 'a').ok).toBe(true);
  });

  it('keeps one bucket per client and per route', () => {
    const limits = new ClientLimits(clock().now);
    const r = route({ rate: 1, burst: 1 });
    expect(limits.admit(r, 'a').ok).toBe(true);
    expect(limits.admit(r, 'a').ok).toBe(false);
    expect(limits.admit(r, 'b').ok).toBe(true);
    expect(limits.admit({ ...r, name: 'other' }, 'a').ok).toBe(true);
  });

  it('defaults the burst to one second of the rate', () => {
    const limits = new ClientLimits(clock().now);
    const r = route({ rate: 5 });
    expect(Array.from({ length: 6 }, () => limits.admit(r, 'a').ok)).toEqual([true, true, true, true, true, false]);
  });

  it('caps requests in progress and frees the slot on release (once)', () => {
    const limits = new ClientLimits(clock().now);
    const r = route({ concurrent: 2 });
    const a = limits.admit(r, 'a');
    const b = limits.admit(r, 'a');
    expect(limits.admit(r, 'a')).toMatchObject({ ok: false, reason: 'concurrent', retryAfterSeconds: 1 });
    if (!a.ok || !b.ok) throw new Error('expected admission');
    a.release?.();
    a.release?.();
    expect(limits.admit(r, 'a').ok).toBe(true);
    expect(limits.admit(r, 'a').ok).toBe(false);
  });

  it('does not spend a token on a request refused for concurrency', () => {
    const limits = new ClientLimits(clock().now);
    const r = route({ rate: 1, burst: 2, concurrent: 1 });
    expect(limits.admit(r, 'a').ok).toBe(true);
    expect(limits.admit(r, 'a')).toMatchObject({ ok: false, reason: 'concurrent' });
  });
});
