/**
 * The backend's recent native call times, for the give-back (issue 22): a call
 * running longer than OVERDUE_FACTOR × the median of the last calls is far
 * dearer than usual, and what waits behind it is handed back. The median, not
 * a mean: one dear call in ten must not move the line it is measured against.
 */

/** Calls remembered. */
const WINDOW = 32;
/** A call is overdue after this many median calls. */
export const OVERDUE_FACTOR = 2;
/** Never sooner than this: a proxy round trip costs about a millisecond on loopback. */
export const OVERDUE_MIN_MS = 3;
/** Fewer calls than this and the median says little: nothing is given back yet. */
const MIN_SAMPLES = 8;

export class CallTimes {
  private readonly times: number[] = [];
  private next = 0;

  record(ms: number): void {
    if (this.times.length < WINDOW) this.times.push(ms);
    else this.times[this.next] = ms;
    this.next = (this.next + 1) % WINDOW;
  }

  /**
   * How long a call runs before it is overdue; undefined until enough calls were seen.
   * @example times.overdueAfterMs() // 2 × the median of the last 32 calls, at least 3 ms
   */
  overdueAfterMs(): number | undefined {
    if (this.times.length < MIN_SAMPLES) return undefined;
    const sorted = [...this.times].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    return Math.max(OVERDUE_MIN_MS, OVERDUE_FACTOR * median);
  }
}
