/**
 * A retry budget (Envoy's retry_budget, Finagle's RetryBudget): retries may add
 * at most `ratio` of the requests seen over the last window, plus a small
 * floor per second so a quiet upstream can still retry. It stops retries from
 * multiplying the load on an upstream that is already failing.
 */

const WINDOW_SECONDS = 10;

export class RetryBudget {
  private readonly requests = new Array<number>(WINDOW_SECONDS).fill(0);
  private readonly retries = new Array<number>(WINDOW_SECONDS).fill(0);
  private second = 0;

  constructor(private readonly ratio: number, private readonly minPerSecond: number, private readonly now: () => number = Date.now) {}

  /** Counts a request (first attempts only). */
  recordRequest(): void {
    this.requests[this.slot()]!++;
  }

  /** Takes one retry from the budget; false when the budget is spent. */
  tryRetry(): boolean {
    const slot = this.slot();
    const requests = this.requests.reduce((a, b) => a + b, 0);
    const retries = this.retries.reduce((a, b) => a + b, 0);
    if (retries + 1 > Math.max(this.minPerSecond * WINDOW_SECONDS, this.ratio * requests)) return false;
    this.retries[slot]!++;
    return true;
  }

  /** The bucket of the current second, clearing buckets that fell out of the window. */
  private slot(): number {
    const second = Math.floor(this.now() / 1000);
    const gap = Math.min(second - this.second, WINDOW_SECONDS);
    for (let i = 1; i <= gap; i++) {
      const s = (this.second + i) % WINDOW_SECONDS;
      this.requests[s] = 0;
      this.retries[s] = 0;
    }
    this.second = Math.max(this.second, second);
    return second % WINDOW_SECONDS;
  }
}
