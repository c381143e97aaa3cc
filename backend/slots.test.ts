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

describe('Slots: sharing behind an overdue call (issue 22)', () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('starts a sharing request at once beside a call that is already overdue', async () => {
    const slots = new Slots(1, 2);
    const dear = await slots.acquire();
    await sleep(30);
    const shared = await slots.acquire(undefined, 20, 'share');
    expect(slots.stats()).toMatchObject({ busy: 2, queued: 0 });
    shared();
    dear();
    expect(slots.stats()).toMatchObject({ busy: 0, queued: 0 });
  });

  it('waits behind a young call, and starts beside it once it is overdue, never handed back', async () => {
    const slots = new Slots(1, 2);
    const dear = await slots.acquire();
    const queuedAt = performance.now();
    const shared = await slots.acquire(undefined, 30, 'share');
    expect(performance.now() - queuedAt).toBeGreaterThanOrEqual(25);
    expect(slots.stats()).toMatchObject({ busy: 2, queued: 0 });
    shared();
    dear();
  });

  it('lets at most `slots` calls share; the next starts when a shared one ends', async () => {
    const slots = new Slots(1, 3);
    const dear = await slots.acquire();
    await sleep(30);
    const first = await slots.acquire(undefined, 20, 'share');
    let secondStarted = false;
    const second = slots.acquire(undefined, 20, 'share').then((release) => { secondStarted = true; return release; });
    await sleep(40);
    expect(secondStarted).toBe(false);
    expect(slots.stats()).toMatchObject({ busy: 2, queued: 1 });
    first();
    // The second starts once the call beside it (the dear one, still running) is again the only one, and overdue.
    (await second)();
    expect(slots.stats()).toMatchObject({ busy: 1, queued: 0 });
    dear();
    expect(slots.stats().busy).toBe(0);
  });

  it('a shared call ending frees no slot: a plain waiter still waits for the dear call', async () => {
    const slots = new Slots(1, 2);
    const dear = await slots.acquire();
    await sleep(30);
    const shared = await slots.acquire(undefined, 20, 'share');
    let plainStarted = false;
    const plain = slots.acquire().then((release) => { plainStarted = true; return release; });
    shared();
    await sleep(10);
    expect(plainStarted).toBe(false);
    expect(slots.stats()).toMatchObject({ busy: 1, queued: 1 });
    dear();
    (await plain)();
    expect(slots.stats()).toMatchObject({ busy: 0, queued: 0 });
  });

  it('a uniform load never shares: a sharing waiter behind a usual call waits for its slot', async () => {
    const slots = new Slots(1, 2);
    const usual = await slots.acquire();
    let started = false;
    const waiter = slots.acquire(undefined, 1000, 'share').then((release) => { started = true; return release; });
    await sleep(20);
    expect(started).toBe(false);
    usual();
    (await waiter)();
    expect(slots.stats().busy).toBe(0);
  });
});
