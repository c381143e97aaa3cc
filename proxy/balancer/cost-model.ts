/**
 * What each target costs its upstream, learnt from earlier answers (issue 22): the
 * median of the last few response times per key (method and URL), so that one
 * answer that waited behind a dear call does not make a cheap target look dear.
 * The queue ranks a waiter by its arrival plus this prediction (HAProxy's
 * `set-priority-offset`, set from measurement instead of by hand): cheap calls
 * go before dear ones that came a little earlier, and a request is overtaken only
 * by calls that arrive within its own predicted cost after it, so none starves.
 */
import { LRUCache } from 'lru-cache';

/** Answers per key the median is taken over. */
const SAMPLES = 5;
/** Weight of the newest answer in the upstream-wide average that unknown keys are predicted with. */
const OVERALL_ALPHA = 0.05;
/** Answers, over all keys, whose median is the upstream's usual call. */
const RECENT = 32;
/**
 * A target is dear when its predicted cost is above this many usual calls: far
 * enough from ordinary spread that only the outliers of a mix count (issue 22's
 * mixes are 100 × dearer), and where a backend would give back what waits behind it.
 */
export const DEAR_FACTOR = 4;
/** Longer keys are not learnt (they are predicted with the average): bounds the table's memory. */
export const MAX_COST_KEY_LENGTH = 512;

/** The last `size` answers, also kept sorted (updated in place: nothing is allocated per answer). */
class RecentAnswers {
  private readonly ring: Float64Array;
  /** The answers held, ascending, in its first `length` places. */
  readonly sorted: Float64Array;
  private count = 0;

  constructor(private readonly size: number) {
    this.ring = new Float64Array(size);
    this.sorted = new Float64Array(size);
  }

  get length(): number {
    return Math.min(this.count, this.size);
  }

  add(ms: number): void {
    let n = this.length;
    if (this.count >= this.size) {
      // Full: the oldest answer leaves the sorted places first.
      const oldest = this.ring[this.count % this.size]!;
      let i = this.sorted.indexOf(oldest);
      for (n--; i < n; i++) this.sorted[i] = this.sorted[i + 1]!;
    }
    let j = n;
    for (; j > 0 && this.sorted[j - 1]! > ms; j--) this.sorted[j] = this.sorted[j - 1]!;
    this.sorted[j] = ms;
    this.ring[this.count % this.size] = ms;
    this.count++;
  }
}

/** The last SAMPLES answers of one key and their median. */
class Samples {
  private readonly answers = new RecentAnswers(SAMPLES);
  median = 0;

  add(ms: number): void {
    this.answers.add(ms);
    const { sorted, length: n } = this.answers;
    this.median = n % 2 === 1 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
  }
}

export class CostModel {
  private readonly byKey: LRUCache<string, Samples>;
  private overallMs = 0;
  /** The last RECENT answers, all keys: their median is the usual call. */
  private readonly recent = new RecentAnswers(RECENT);
  private usualMs = 0;

  /** @example const costs = new CostModel(4096); costs.observe('GET /api/foo?val=3', 12); costs.predict('GET /api/foo?val=3') // 12 */
  constructor(maxKeys = 4096) {
    this.byKey = new LRUCache({ max: maxKeys });
  }

  /** Records that a call to `key` took `ms` to its response headers. */
  observe(key: string | undefined, ms: number): void {
    if (!(ms >= 0) || !Number.isFinite(ms)) return;
    this.overallMs = this.overallMs === 0 ? ms : this.overallMs + OVERALL_ALPHA * (ms - this.overallMs);
    this.recent.add(ms);
    this.usualMs = this.recent.sorted[this.recent.length >> 1]!;
    if (key === undefined || key.length > MAX_COST_KEY_LENGTH) return;
    let samples = this.byKey.get(key);
    if (!samples) {
      samples = new Samples();
      this.byKey.set(key, samples);
    }
    samples.add(ms);
  }

  /**
   * The predicted cost of a call to `key`, ms. A key never seen (or not learnt) is
   * predicted with the upstream's average, so that a fresh query string cannot jump
   * ahead of the calls known to be cheap; 0 before any answer.
   */
  predict(key: string | undefined): number {
    const samples = key === undefined ? undefined : this.byKey.get(key);
    return samples ? samples.median : this.overallMs;
  }

  /**
   * Whether a call to `key` is known to be dear: its own answers put it above
   * DEAR_FACTOR usual calls. A key never seen is not (nothing says so).
   */
  isDear(key: string | undefined): boolean {
    if (key === undefined || this.recent.length < RECENT / 4) return false;
    const samples = this.byKey.get(key);
    return samples !== undefined && samples.median > DEAR_FACTOR * this.usualMs;
  }

  /** Keys learnt (for /status). */
  get size(): number {
    return this.byKey.size;
  }
}
