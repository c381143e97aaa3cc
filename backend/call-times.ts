/**
 * The backend's recent native call times, for the give-back deadline (issue 22):
 * a queued request that has not started within GIVE_BACK_FACTOR × the median of
 * the last calls is stuck behind one far dearer than usual. The median, not a
 * mean: one dear call in ten must not move the deadline it is measured against.
 */

/** Calls remembered. */
const WINDOW = 32;
/** A queued request waits this many median calls before it is given back. */
export const GIVE_BACK_FACTOR = 2;
/** Never sooner than this: a proxy round trip costs about a millisecond on loopback. */
export const GIVE_BACK_MIN_MS = 3;
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
   * How long a queued request may wait before it is given back; undefined until enough calls were seen.
   * @example times.giveBackAfterMs() // 2 × the median of the last 32 calls, at least 3 ms
   */
  giveBackAfterMs(): number | undefined {
    if (this.times.length < MIN_SAMPLES) return undefined;
    const sorted = [...this.times].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    return Math.max(GIVE_BACK_MIN_MS, GIVE_BACK_FACTOR * median);
  }
}
