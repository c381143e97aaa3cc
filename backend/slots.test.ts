import { describe, expect, it } from 'vitest';
import { AbandonedError, NotStartedError, Slots, SlotsFullError } from './slots.js';

describe('Slots', () => {
  it('grants up to `slots` at once, queues up to `queueSize`, refuses the rest', async () => {
    const slots = new Slots(2, 1);
    const a = await slots.acquire();
    await slots.acquire();
    const queued = slots.acquire();
    await expect(slots.acquire()).rejects.toBeInstanceOf(SlotsFullError);
    expect(slots.stats()).toEqual({ slots: 2, busy: 2, queued: 1, queueSize: 1 });
    a();
    const c = await queued;
    expect(slots.stats()).toMatchObject({ busy: 2, queued: 0 });
    c();
    expect(slots.stats()).toMatchObject({ busy: 1 });
  });

  it('hands slots over in FIFO order', async () => {
    const slots = new Slots(1, 3);
    const first = await slots.acquire();
    const order: number[] = [];
    const waiters = [1, 2, 3].map((n) => slots.acquire().then((release) => { order.push(n); release(); }));
    first();
    await Promise.all(waiters);
    expect(order).toEqual([1, 2, 3]);
    expect(slots.stats().busy).toBe(0);
  });

  it('drops a queued request whose client went away, and never grants it a slot', async () => {
    const slots = new Slots(1, 2);
    const release = await slots.acquire();
    const gone = new AbortController();
    const abandoned = slots.acquire(gone.signal);
    const kept = slots.acquire();
    gone.abort();
    await expect(abandoned).rejects.toBeInstanceOf(AbandonedError);
    expect(slots.stats().queued).toBe(1);
    release();
    (await kept)();
    expect(slots.stats()).toMatchObject({ busy: 0, queued: 0 });
  });

  it('refuses an already aborted request without taking a slot', async () => {
    const gone = new AbortController();
    gone.abort();
    const slots = new Slots(1, 0);
    await expect(slots.acquire(gone.signal)).rejects.toBeInstanceOf(AbandonedError);
    expect(slots.stats().busy).toBe(0);
  });

  it('ignores a second release of the same slot', async () => {
    const slots = new Slots(1, 0);
    const release = await slots.acquire();
    release();
    release();
    expect(slots.stats().busy).toBe(0);
    await slots.acquire();
    expect(slots.stats().busy).toBe(1);
  });

  it.each([[0, 1], [1.5, 1], [1, -1]])('rejects slots=%d queueSize=%d', (s, q) => {
    expect(() => new Slots(s, q)).toThrow(RangeError);
  });
});

describe('Slots: give-back (issue 22)', () => {
  it('hands a queued request back when it has not started by its deadline, and keeps the slot order for the rest', async () => {
    const slots = new Slots(1, 2);
    const running = await slots.acquire();
    const started = performance.now();
    const givenBack = slots.acquire(undefined, 30);
    const patient = slots.acquire();
    await expect(givenBack).rejects.toBeInstanceOf(NotStartedError);
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
    expect(slots.stats()).toMatchObject({ busy: 1, queued: 1 });
    running();
    (await patient)();
    expect(slots.stats()).toMatchObject({ busy: 0, queued: 0 });
  });

  it('a request granted before its deadline is never handed back', async () => {
    const slots = new Slots(1, 1);
    const running = await slots.acquire();
    const queued = slots.acquire(undefined, 50);
    running();
    const release = await queued;
    await new Promise((r) => setTimeout(r, 80));
    expect(slots.stats()).toMatchObject({ busy: 1, queued: 0 });
    release();
  });
});
