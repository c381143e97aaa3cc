/**
 * A backend's compute slots and its small local queue. Work beyond both is
 * refused at once (the caller answers 503 + Retry-After): a backend that queues
 * without bound only moves the wait where nobody can see or shed it.
 */

export class SlotsFullError extends Error {
  constructor() {
    super('every compute slot is busy and the local queue is full');
    this.name = 'SlotsFullError';
  }
}

export class AbandonedError extends Error {
  constructor() {
    super('the request was abandoned while queued');
    this.name = 'AbandonedError';
  }
}

/** A queued request handed back unstarted because every slot is held by an overdue call (issue 22). */
export class NotStartedError extends Error {
  constructor(readonly waitedMs: number) {
    super(`not started after ${Math.round(waitedMs)} ms: every slot is held by a call running far longer than usual`);
    this.name = 'NotStartedError';
  }
}

interface Waiter {
  grant: (release: () => void) => void;
  refuse: (err: Error) => void;
}

export interface SlotStats {
  slots: number;
  busy: number;
  queued: number;
  queueSize: number;
}

export class Slots {
  private readonly waiting: Waiter[] = [];
  /** When each call holding a slot now started (performance.now()): one entry per busy slot. */
  private readonly startedAt: number[] = [];

  constructor(readonly slots: number, readonly queueSize: number) {
    if (!Number.isInteger(slots) || slots < 1) throw new RangeError(`slots must be a positive integer, got ${slots}`);
    if (!Number.isInteger(queueSize) || queueSize < 0) throw new RangeError(`queueSize must be a non-negative integer, got ${queueSize}`);
  }

  /**
   * Waits for a free slot; resolves to its release function (call it once).
   * `overdueAfterMs`: the caller takes the request back if, while it waits, every slot is
   * held by a call that has run longer than this (a call far dearer than usual); a queue
   * of usual calls, however deep, never reaches that.
   * @throws SlotsFullError when the queue is full; AbandonedError when `signal` aborts while queued;
   *   NotStartedError when every slot's call is overdue while queued.
   * @example const release = await slots.acquire(req.signal); try { await work(); } finally { release(); }
   */
  acquire(signal?: AbortSignal, overdueAfterMs?: number): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(new AbandonedError());
    if (this.startedAt.length < this.slots) return Promise.resolve(this.releaser());
    if (this.waiting.length >= this.queueSize) return Promise.reject(new SlotsFullError());
    return new Promise((grant, refuse) => {
      const queuedAt = performance.now();
      let timer: NodeJS.Timeout | undefined;
      const leave = (err: Error) => {
        const i = this.waiting.indexOf(waiter);
        if (i < 0) return;
        this.waiting.splice(i, 1);
        clearTimeout(timer);
        refuse(err);
      };
      // The calls ahead change as slots free and fill: look again when the youngest would be overdue.
      const checkOverdue = () => {
        const wait = this.untilEveryCallOverdue(overdueAfterMs!);
        if (wait <= 0) leave(new NotStartedError(performance.now() - queuedAt));
        else timer = setTimeout(checkOverdue, wait);
      };
      const waiter: Waiter = { grant: (release) => { clearTimeout(timer); grant(release); }, refuse };
      this.waiting.push(waiter);
      signal?.addEventListener('abort', () => leave(new AbandonedError()), { once: true });
      if (overdueAfterMs !== undefined) checkOverdue();
    });
  }

  /** Milliseconds until every call holding a slot has run `overdueAfterMs` (≤ 0: they all have). */
  private untilEveryCallOverdue(overdueAfterMs: number): number {
    let youngest = Number.NEGATIVE_INFINITY;
    for (const t of this.startedAt) if (t > youngest) youngest = t;
    return youngest + overdueAfterMs - performance.now();
  }

  stats(): SlotStats {
    return { slots: this.slots, busy: this.startedAt.length, queued: this.waiting.length, queueSize: this.queueSize };
  }

  private releaser(): () => void {
    const started = performance.now();
    this.startedAt.push(started);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.startedAt.splice(this.startedAt.indexOf(started), 1);
      this.waiting.shift()?.grant(this.releaser());
    };
  }
}
