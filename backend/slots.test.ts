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
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('hands a queued request back once the call ahead of it is overdue, and keeps the slot order for the rest', async () => {
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

  it('measures from the start of the call ahead, not from the arrival: behind an overdue call it gives back at once', async () => {
    const slots = new Slots(1, 1);
    const running = await slots.acquire();
    await sleep(40);
    const arrived = performance.now();
    await expect(slots.acquire(undefined, 30)).rejects.toBeInstanceOf(NotStartedError);
    expect(performance.now() - arrived).toBeLessThan(20);
    running();
  });

  it('a deep queue of usual calls is never given back: each call ahead starts its own count', async () => {
    const slots = new Slots(1, 4);
    const first = await slots.acquire();
    // Three queued behind calls of 20 ms each: the last waits 60 ms, yet no call ran 30 ms.
    const queued = [slots.acquire(undefined, 30), slots.acquire(undefined, 30), slots.acquire(undefined, 30)];
    let release = first;
    for (const next of queued) {
      await sleep(20);
      release();
      release = await next;
    }
    release();
    expect(slots.stats()).toMatchObject({ busy: 0, queued: 0 });
  });

  it('with several slots, gives back only when every slot holds an overdue call', async () => {
    const slots = new Slots(2, 1);
    const old = await slots.acquire();
    await sleep(40);
    const young = await slots.acquire();
    const started = performance.now();
    // The young call becomes overdue 30 ms after it started; until then the queued request may get its slot.
    await expect(slots.acquire(undefined, 30)).rejects.toBeInstanceOf(NotStartedError);
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
    old();
    young();
  });

  it('a request granted in time is never handed back', async () => {
    const slots = new Slots(1, 1);
    const running = await slots.acquire();
    const queued = slots.acquire(undefined, 50);
    running();
    const release = await queued;
    await sleep(80);
    expect(slots.stats()).toMatchObject({ busy: 1, queued: 0 });
    release();
  });
});
