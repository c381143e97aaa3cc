/**
 * What to do with the origin's answer to a fetch through the cache, decided
 * once for the foreground fetch and the background revalidation alike. Pure.
 */
import type { Directives } from './directives.js';
import { parseCacheControl } from './directives.js';
import { first, notStorableReason, staleIfErrorAllowed } from './freshness.js';
import { notModifiedSelects } from './conditional.js';
import type { Variant } from './store.js';

/** Answers that let stale-if-error serve a stored response (RFC 5861 §4). */
export const ERROR_STATUSES = new Set([500, 502, 503, 504]);

export type OriginAnswer =
  /** A 304 that selects the stored response: refresh it (RFC 9111 §4.3.4). */
  | { kind: 'refresh' }
  /** An error while stale-if-error allows the stored one: keep serving it. */
  | { kind: 'stale' }
  /** Not to be stored (the reason says why); `dropStored`: a newer representation replaced the stored one. */
  | { kind: 'pass'; reason: string; dropStored: boolean }
  /** Store it while it streams. */
  | { kind: 'store' };

export interface OriginFacts {
  stored: Variant | undefined;
  status: number;
  headers: Record<string, string | string[]>;
  requestMethod: string;
  requestCc: Directives;
  /** The request carried Authorization (a shared cache stores such answers only when told it may). */
  authorized: boolean;
  maxObjectBytes: number;
  responseTime: number;
  /** A background revalidation (stale-while-revalidate): an error never replaces what is stored. */
  background: boolean;
}

/**
 * @example sortOriginAnswer({ stored, status: 304, headers, ... }) // { kind: 'refresh' } when the 304 selects `stored`
 */
export function sortOriginAnswer(f: OriginFacts): OriginAnswer {
  if (f.stored && f.status === 304 && notModifiedSelects(f.stored, f.headers)) return { kind: 'refresh' };
  if (f.stored && ERROR_STATUSES.has(f.status) && staleIfErrorAllowed(f.stored, f.requestCc, f.responseTime)) return { kind: 'stale' };
  if (f.background && ERROR_STATUSES.has(f.status)) return { kind: 'pass', reason: 'an error answer to a background revalidation', dropStored: false };
  const reason = whyNotStore(f);
  if (reason !== undefined) return { kind: 'pass', reason, dropStored: f.stored !== undefined && f.status < 400 };
  return { kind: 'store' };
}

/** Whether a response may be stored for this request, as a reason when not. */
export function whyNotStore(f: Omit<OriginFacts, 'stored' | 'background'>): string | undefined {
  const declared = Number(first(f.headers['content-length']));
  if (declared > f.maxObjectBytes) return 'larger than max_object_bytes';
  const reason = notStorableReason({ status: f.status, headers: f.headers, requestCc: f.requestCc, authorized: f.authorized }, f.responseTime);
  if (reason !== undefined) return reason;
  // A POST's response is reused only when its origin said for how long (RFC 9110 §9.3.3).
  const cc = parseCacheControl(f.headers['cache-control']);
  if (f.requestMethod === 'POST' && !cc.values.has('max-age') && !cc.values.has('s-maxage') && f.headers.expires === undefined) return 'POST without explicit freshness';
  return undefined;
}
