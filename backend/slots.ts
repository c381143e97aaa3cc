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

/** Ends a call (call it once); `shared`: the call was started beside overdue calls, not in a slot of its own. */
export type Release = (() => void) & { readonly shared: boolean };

interface Waiter {
  grant: (release: Release) => void;
  refuse: (err: Error) => void;
  /** A waiter that may share: looks again whether it may start (a call ended). */
  recheck?: () => void;
}

/**
 * What a waiting request does when every slot is held by an overdue call (issue 22):
 * `give-back`: it is refused with NotStartedError, for the proxy to send to a free server;
 * `share`: it starts at once beside those calls (the proxy has no free server for it), so it
 * takes its share of a core for a few ms instead of waiting out a call 100 × dearer.
 */
export type WhenOverdue = 'give-back' | 'share';

export interface SlotStats {
  slots: number;
  /** Calls running, shared ones included (up to 2 × slots). */
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
   * `overdueAfterMs`: if, while the request waits, every running call has run longer than
   * this (a call far dearer than usual), the request is given back or shares, as `whenOverdue`
   * says; a queue of usual calls, however deep, never reaches that. At most `slots` calls
   * share at once.
   * @throws SlotsFullError when the queue is full; AbandonedError when `signal` aborts while queued;
   *   NotStartedError when every slot's call is overdue while queued (`give-back`).
   * @example const release = await slots.acquire(req.signal); try { await work(); } finally { release(); }
   */
  acquire(signal?: AbortSignal, overdueAfterMs?: number, whenOverdue: WhenOverdue = 'give-back'): Promise<Release> {
    if (signal?.aborted) return Promise.reject(new AbandonedError());
    if (this.startedAt.length < this.slots) return Promise.resolve(this.releaser());
    const share = overdueAfterMs !== undefined && whenOverdue === 'share';
    if (share && this.mayShare(overdueAfterMs)) return Promise.resolve(this.releaser());
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
        clearTimeout(timer);
        const wait = this.untilEveryCallOverdue(overdueAfterMs!);
        if (wait > 0) timer = setTimeout(checkOverdue, wait);
        else if (!share) leave(new NotStartedError(performance.now() - queuedAt));
        else if (this.mayShare(overdueAfterMs!)) {
          this.waiting.splice(this.waiting.indexOf(waiter), 1);
          grant(this.releaser());
        }
        // else: as many calls share as there are slots; the next to end looks again (recheck)
      };
      const waiter: Waiter = { grant: (release) => { clearTimeout(timer); grant(release); }, refuse, recheck: share ? checkOverdue : undefined };
      this.waiting.push(waiter);
      signal?.addEventListener('abort', () => leave(new AbandonedError()), { once: true });
      if (overdueAfterMs !== undefined) checkOverdue();
    });
  }

  /** Whether a request may start beside the running calls: all of them overdue, fewer than `slots` sharing. */
  private mayShare(overdueAfterMs: number): boolean {
    return this.startedAt.length < 2 * this.slots && this.untilEveryCallOverdue(overdueAfterMs) <= 0;
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

  private releaser(): Release {
    const started = performance.now();
    const shared = this.startedAt.length >= this.slots;
    this.startedAt.push(started);
    let released = false;
    return Object.assign(() => {
      if (released) return;
      released = true;
      this.startedAt.splice(this.startedAt.indexOf(started), 1);
      // A shared call ending leaves every slot still held: only a call among the first `slots` frees one.
      if (this.startedAt.length < this.slots) this.waiting.shift()?.grant(this.releaser());
      for (const w of this.waiting) if (w.recheck) { w.recheck(); break; }
    }, { shared });
  }
}
