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

/** A queued request not started by its deadline, handed back for the proxy to send elsewhere (issue 22). */
export class NotStartedError extends Error {
  constructor(readonly waitedMs: number) {
    super(`not started within ${Math.round(waitedMs)} ms: the slot is held by a call far longer than usual`);
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
  private busy = 0;
  private readonly waiting: Waiter[] = [];

  constructor(readonly slots: number, readonly queueSize: number) {
    if (!Number.isInteger(slots) || slots < 1) throw new RangeError(`slots must be a positive integer, got ${slots}`);
    if (!Number.isInteger(queueSize) || queueSize < 0) throw new RangeError(`queueSize must be a non-negative integer, got ${queueSize}`);
  }

  /**
   * Waits for a free slot; resolves to its release function (call it once).
   * @throws SlotsFullError when the queue is full; AbandonedError when `signal` aborts while queued;
   *   NotStartedError when `giveBackAfterMs` passes while queued.
   * @example const release = await slots.acquire(req.signal); try { await work(); } finally { release(); }
   */
  acquire(signal?: AbortSignal, giveBackAfterMs?: number): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(new AbandonedError());
    if (this.busy < this.slots) {
      this.busy++;
      return Promise.resolve(this.releaser());
    }
    if (this.waiting.length >= this.queueSize) return Promise.reject(new SlotsFullError());
    return new Promise((grant, refuse) => {
      const leave = (err: Error) => {
        const i = this.waiting.indexOf(waiter);
        if (i < 0) return;
        this.waiting.splice(i, 1);
        clearTimeout(timer);
        refuse(err);
      };
      // The caller may take it back: not started by then, it goes elsewhere (see NotStartedError).
      const timer = giveBackAfterMs === undefined ? undefined : setTimeout(() => leave(new NotStartedError(giveBackAfterMs)), giveBackAfterMs);
      const waiter: Waiter = { grant: (release) => { clearTimeout(timer); grant(release); }, refuse };
      this.waiting.push(waiter);
      signal?.addEventListener('abort', () => leave(new AbandonedError()), { once: true });
    });
  }

  stats(): SlotStats {
    return { slots: this.slots, busy: this.busy, queued: this.waiting.length, queueSize: this.queueSize };
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next.grant(this.releaser());
      else this.busy--;
    };
  }
}
