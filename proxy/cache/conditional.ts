/**
 * Validation (RFC 9111 §4.3, RFC 9110 §13): answering a client's conditional
 * request from a stored response, asking the origin whether a stored one is
 * still good, and folding the origin's 304 into what is stored.
 */
import { parseHttpDate } from './directives.js';
import { first, type StoredResponse } from './freshness.js';

type Headers = Record<string, string | string[] | undefined>;

/** Fields a 304 carries (RFC 9110 §15.4.5), plus Last-Modified to help downstream caches. */
const NOT_MODIFIED_FIELDS = ['cache-control', 'content-location', 'date', 'etag', 'expires', 'vary', 'last-modified'];
/** Fields a 304 must not change in the stored response (RFC 9111 §3.2). */
const NOT_UPDATED = new Set(['content-length', 'content-encoding', 'content-range', 'transfer-encoding', 'x-cache', 'age']);

/** Weak comparison of entity tags (RFC 9110 §8.8.3.2): W/"a" matches "a". */
export function etagMatchesAny(list: string, etag: string | undefined): boolean {
  if (list.trim() === '*') return etag !== undefined;
  if (etag === undefined) return false;
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  const wanted = opaque(etag);
  return (list.match(/(?:W\/)?"[^"]*"/g) ?? []).some((tag) => opaque(tag) === wanted);
}

/**
 * Whether a GET/HEAD with these request headers may be answered 304 from
 * `stored`: If-None-Match decides when present, else If-Modified-Since.
 */
export function clientHasCurrentCopy(request: Headers, stored: StoredResponse): boolean {
  if (stored.status !== 200) return false;
  const inm = first(request['if-none-match']);
  if (inm !== undefined) return etagMatchesAny(inm, first(stored.headers.etag));
  const since = parseHttpDate(request['if-modified-since']);
  const modified = parseHttpDate(stored.headers['last-modified']) ?? parseHttpDate(stored.headers.date);
  return since !== undefined && modified !== undefined && modified <= since;
}

/** The headers of a 304 made from `stored`. */
export function notModifiedHeaders(stored: StoredResponse): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name of NOT_MODIFIED_FIELDS) {
    const value = stored.headers[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/** The conditional headers that ask the origin whether `stored` is still current, or undefined when it has no validator. */
export function validatorsOf(stored: StoredResponse): Record<string, string> | undefined {
  const etag = first(stored.headers.etag);
  const lastModified = first(stored.headers['last-modified']);
  if (etag === undefined && lastModified === undefined) return undefined;
  const out: Record<string, string> = {};
  if (etag !== undefined) out['if-none-match'] = etag;
  if (lastModified !== undefined) out['if-modified-since'] = lastModified;
  return out;
}

/** Whether the origin's 304 is about `stored` (§4.3.4): its entity tag, when both have one, must match. */
export function notModifiedSelects(stored: StoredResponse, headers: Headers): boolean {
  const received = first(headers.etag);
  const mine = first(stored.headers.etag);
  return received === undefined || mine === undefined || etagMatchesAny(received, mine);
}

/** `stored`'s headers updated by a 304's (§3.2): each field the 304 carries replaces the stored one. */
export function mergeNotModified(stored: Record<string, string | string[]>, update: Record<string, string | string[]>): Record<string, string | string[]> {
  const out = { ...stored };
  for (const [name, value] of Object.entries(update)) {
    if (!NOT_UPDATED.has(name)) out[name] = value;
  }
  return out;
}
