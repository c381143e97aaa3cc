/**
 * RFC 9111 as a shared cache applies it, as pure functions of headers and
 * clocks: may a response be stored (§3), how long is it fresh (§4.2.1-2), how
 * old is it (§4.2.3), and may a stored one answer a request as it is, stale,
 * or only after validation (§4.2.4, §5.2.1, RFC 5861).
 */
import { STATUS_CODES } from 'node:http';
import { parseCacheControl, parseHttpDate, secondsOf, type Directives } from './directives.js';

type Headers = Record<string, string | string[] | undefined>;

/** Status codes a cache may give a heuristic lifetime (RFC 9110 §15.1). */
const HEURISTIC_STATUSES = new Set([200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501]);
/** Heuristic lifetime: a tenth of the time since Last-Modified (§4.2.2's suggestion), at most a day. */
const HEURISTIC_FRACTION = 0.1;
const HEURISTIC_MAX_SECONDS = 86_400;

/** A response as the cache keeps it. */
export interface StoredResponse {
  status: number;
  /** Without hop-by-hop fields; Date added when the origin sent none. */
  headers: Record<string, string | string[]>;
  body: Buffer;
  /** Epoch ms when the request that fetched it was sent, and when its headers came back. */
  requestTime: number;
  responseTime: number;
  cc: Directives;
  /** Freshness lifetime in seconds. */
  lifetime: number;
  /** The corrected initial age in seconds (§4.2.3), computed once when stored. */
  initialAge?: number;
}

export function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Seconds the response is fresh for, as a shared cache counts them: s-maxage,
 * then max-age, then Expires − Date, then a heuristic where allowed. Invalid or
 * conflicting values make it stale (0).
 * @example freshnessLifetime(200, { 'cache-control': 's-maxage=60, max-age=10' }, now) // 60
 */
export function freshnessLifetime(status: number, headers: Headers, responseTime: number, cc = parseCacheControl(headers['cache-control'])): number {
  for (const name of ['s-maxage', 'max-age']) {
    const seconds = secondsOf(cc, name);
    if (seconds === undefined) continue;
    return seconds === 'invalid' || cc.repeated.has(name) ? 0 : seconds;
  }
  const date = parseHttpDate(headers.date) ?? responseTime;
  if (headers.expires !== undefined) {
    if (Array.isArray(headers.expires) && headers.expires.length > 1) return 0;
    const expires = parseHttpDate(headers.expires);
    return expires === undefined ? 0 : Math.max(0, Math.floor((expires - date) / 1000));
  }
  if (!HEURISTIC_STATUSES.has(status) && !cc.values.has('public')) return 0;
  const lastModified = parseHttpDate(headers['last-modified']);
  if (lastModified === undefined || lastModified > date) return 0;
  return Math.min(HEURISTIC_MAX_SECONDS, Math.floor(((date - lastModified) / 1000) * HEURISTIC_FRACTION));
}

/**
 * The response's current age in seconds (§4.2.3), from its Age and Date and
 * the clocks of the exchange that fetched it.
 */
export function currentAge(stored: Pick<StoredResponse, 'headers' | 'requestTime' | 'responseTime' | 'initialAge'>, now: number): number {
  return (stored.initialAge ?? initialAge(stored)) + (now - stored.responseTime) / 1000;
}

/** The corrected initial age (§4.2.3): what the response's age was when it arrived. */
export function initialAge(stored: Pick<StoredResponse, 'headers' | 'requestTime' | 'responseTime'>): number {
  const ageValue = Math.min(Number(/^\d+$/.test(first(stored.headers.age) ?? '') ? first(stored.headers.age) : 0), 2 ** 31);
  const dateValue = parseHttpDate(stored.headers.date) ?? stored.responseTime;
  const apparentAge = Math.max(0, stored.responseTime - dateValue) / 1000;
  const responseDelay = (stored.responseTime - stored.requestTime) / 1000;
  return Math.max(apparentAge, ageValue + responseDelay);
}

export interface StoreContext {
  status: number;
  headers: Headers;
  requestCc: Directives;
  /** The request carried Authorization. */
  authorized: boolean;
}

/**
 * Why a response must not be stored, or undefined when it may be (§3, §3.5).
 * Stricter than the RFC in two places, as nginx is: a response that sets a
 * cookie is not stored (it would hand one client's cookie to others), nor
 * one with `private` in any form. A cache may always decline to store.
 */
export function notStorableReason(ctx: StoreContext, responseTime: number): string | undefined {
  const cc = parseCacheControl(ctx.headers['cache-control']);
  const understood = STATUS_CODES[ctx.status] !== undefined && ctx.status !== 206 && ctx.status !== 304;
  if (!understood) return `status ${ctx.status} is not stored`;
  if (cc.values.has('no-store') && !cc.values.has('must-understand')) return 'the response says no-store';
  if (ctx.requestCc.values.has('no-store')) return 'the request says no-store';
  if (cc.values.has('private')) return 'the response is private';
  if (ctx.authorized && !cc.values.has('public') && !cc.values.has('must-revalidate') && !cc.values.has('s-maxage')) {
    return 'the request carried Authorization and the response does not allow sharing it';
  }
  if ((first(ctx.headers.vary) ?? '').split(',').some((f) => f.trim() === '*')) return 'the response varies on everything (Vary: *)';
  if (ctx.headers['set-cookie'] !== undefined) return 'the response sets a cookie';
  if (ctx.headers['content-range'] !== undefined) return 'the response is partial';
  const explicit = cc.values.has('public') || cc.values.has('max-age') || cc.values.has('s-maxage') || ctx.headers.expires !== undefined;
  if (!explicit && !HEURISTIC_STATUSES.has(ctx.status)) return `status ${ctx.status} needs explicit freshness to be stored`;
  const validator = ctx.headers.etag !== undefined || ctx.headers['last-modified'] !== undefined;
  if (freshnessLifetime(ctx.status, ctx.headers, responseTime, cc) === 0 && !validator) return 'the response is stale on arrival and has no validator';
  return undefined;
}

/** How a stored response may answer a request. */
export type Verdict =
  /** Fresh and acceptable to the client. */
  | 'fresh'
  /** Stale, but the client allows it (max-stale). */
  | 'stale-allowed'
  /** Stale within stale-while-revalidate: answer now, validate in the background. */
  | 'stale-while-revalidate'
  /** Validate with the origin first (or fetch anew when it has no validator). */
  | 'validate';

/**
 * Whether `stored` may answer a request with Cache-Control `requestCc`
 * (and `Pragma: no-cache`, honoured when the request has no Cache-Control).
 */
export function judge(stored: StoredResponse, requestCc: Directives, pragmaNoCache: boolean, now: number): Verdict {
  const age = currentAge(stored, now);
  const cc = stored.cc;
  if (cc.values.has('no-cache')) return 'validate';
  if (requestCc.values.has('no-cache') || (pragmaNoCache && requestCc.values.size === 0)) return 'validate';
  const maxAge = secondsOf(requestCc, 'max-age');
  if (maxAge !== undefined && (maxAge === 'invalid' || age > maxAge)) return 'validate';
  const remaining = stored.lifetime - age;
  const minFresh = secondsOf(requestCc, 'min-fresh');
  if (minFresh !== undefined && (minFresh === 'invalid' || remaining < minFresh)) return 'validate';
  if (remaining > 0) return 'fresh';
  if (mustNotServeStale(cc)) return 'validate';
  const staleness = -remaining;
  const maxStale = requestCc.values.get('max-stale');
  if (maxStale === '' || (maxStale !== undefined && /^\d+$/.test(maxStale) && staleness <= Number(maxStale))) return 'stale-allowed';
  const swr = secondsOf(cc, 'stale-while-revalidate');
  if (typeof swr === 'number' && staleness <= swr) return 'stale-while-revalidate';
  return 'validate';
}

/** RFC 5861 stale-if-error, from the response or the request, unless the response forbids stale use. */
export function staleIfErrorAllowed(stored: StoredResponse, requestCc: Directives, now: number): boolean {
  if (mustNotServeStale(stored.cc) || stored.cc.values.has('no-cache')) return false;
  const staleness = currentAge(stored, now) - stored.lifetime;
  return [secondsOf(stored.cc, 'stale-if-error'), secondsOf(requestCc, 'stale-if-error')].some((s) => typeof s === 'number' && staleness <= s);
}

/** must-revalidate, and for a shared cache proxy-revalidate and s-maxage, forbid serving stale (§5.2.2). */
function mustNotServeStale(cc: Directives): boolean {
  return cc.values.has('must-revalidate') || cc.values.has('proxy-revalidate') || cc.values.has('s-maxage');
}
