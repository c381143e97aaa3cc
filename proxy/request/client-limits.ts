/**
 * Per-client limits of a route, keyed on the real client (after trusted
 * proxies): a token bucket of `limits.rate` with room for `limits.burst`
 * (nginx's limit_req with nodelay) and a cap on requests in progress at once
 * (`limits.concurrent`, nginx's limit_conn). Buckets live in an LRU, so memory
 * stays bounded however many clients come; a client whose bucket was evicted
 * starts again with a full one, which only errs on the side of serving.
 */
import { LRUCache } from 'lru-cache';
import type { RouteConfig } from '../../lib/config/load.js';

/** Buckets kept at most (about 100 bytes each). */
const MAX_BUCKETS = 100_000;

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date, ms. */
  at: number;
}

export type Admission =
  | { ok: true; release?: () => void }
  | { ok: false; reason: 'rate' | 'concurrent'; retryAfterSeconds: number; detail: string };

export class ClientLimits {
  private readonly buckets = new LRUCache<string, Bucket>({ max: MAX_BUCKETS });
  private readonly inProgress = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Whether `client` may make a request on `route` now; an admitted request calls `release` when it ends. */
  admit(route: Pick<RouteConfig, 'name' | 'limits'>, client: string): Admission {
    const { rate, concurrent } = route.limits;
    const key = `${route.name}\u0000${client}`;
    if (rate !== undefined) {
      const size = route.limits.burst ?? Math.max(1, Math.ceil(rate));
      const now = this.now();
      const bucket = this.buckets.get(key) ?? { tokens: size, at: now };
      bucket.tokens = Math.min(size, bucket.tokens + ((now - bucket.at) / 1000) * rate);
      bucket.at = now;
      if (bucket.tokens < 1) {
        this.buckets.set(key, bucket);
        const wait = Math.max(1, Math.ceil((1 - bucket.tokens) / rate));
        return { ok: false, reason: 'rate', retryAfterSeconds: wait, detail: `too many requests: this route allows ${formatRate(rate)} per client with bursts of ${size}; retry after ${wait} s` };
      }
      if (concurrent !== undefined && (this.inProgress.get(key) ?? 0) >= concurrent) return this.tooManyAtOnce(concurrent);
      bucket.tokens -= 1;
      this.buckets.set(key, bucket);
    } else if (concurrent !== undefined && (this.inProgress.get(key) ?? 0) >= concurrent) {
      return this.tooManyAtOnce(concurrent);
    }
    if (concurrent === undefined) return { ok: true };
    this.inProgress.set(key, (this.inProgress.get(key) ?? 0) + 1);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        const left = (this.inProgress.get(key) ?? 1) - 1;
        if (left <= 0) this.inProgress.delete(key);
        else this.inProgress.set(key, left);
      },
    };
  }

  private tooManyAtOnce(concurrent: number): Admission {
    return { ok: false, reason: 'concurrent', retryAfterSeconds: 1, detail: `too many requests at once: this route allows ${concurrent} in progress per client; retry after 1 s` };
  }
}

function formatRate(perSecond: number): string {
  if (perSecond >= 1) return `${+perSecond.toFixed(2)} requests/s`;
  if (perSecond * 60 >= 1) return `${+(perSecond * 60).toFixed(2)} requests/min`;
  return `${+(perSecond * 3600).toFixed(2)} requests/h`;
}
