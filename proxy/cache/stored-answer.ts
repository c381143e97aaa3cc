/**
 * The answer a stored response gives a request: 304 when the client's own
 * validators match (RFC 9110 §13.2.2), a range when it asks for one and
 * If-Range holds (§14.2, §13.1.5), headers only for HEAD; with Age and X-Cache.
 * Pure: the clock comes in as `now`.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { parseRange } from '../request/range.js';
import { clientHasCurrentCopy, notModifiedHeaders } from './conditional.js';
import { currentAge, first } from './freshness.js';
import type { Variant } from './store.js';

export interface StoredAnswer {
  status: number;
  headers: Record<string, string | string[]>;
  /** undefined: no body (HEAD, 304). */
  body: Buffer | undefined;
}

/** @example storedAnswer('GET', { range: 'bytes=0-9' }, stored, 'HIT', Date.now()).status // 206 */
export function storedAnswer(method: string, requestHeaders: IncomingHttpHeaders, stored: Variant, cacheStatus: string, now: number): StoredAnswer {
  const extra = { age: String(Math.floor(currentAge(stored, now))), 'x-cache': cacheStatus };
  if ((method === 'GET' || method === 'HEAD') && clientHasCurrentCopy(requestHeaders, stored)) {
    return { status: 304, headers: { ...notModifiedHeaders(stored), ...extra }, body: undefined };
  }
  let status = stored.status;
  let body = stored.body;
  const headers: Record<string, string | string[]> = { ...stored.headers, ...extra };
  if (method === 'GET' && status === 200 && requestHeaders.range !== undefined && ifRangeHolds(first(requestHeaders['if-range']), stored)) {
    const range = parseRange(requestHeaders.range, body.length);
    if (range.kind === 'partial') {
      status = 206;
      headers['content-range'] = `bytes ${range.start}-${range.end}/${body.length}`;
      body = body.subarray(range.start, range.end + 1);
    } else if (range.kind === 'unsatisfiable') {
      status = 416;
      headers['content-range'] = `bytes */${body.length}`;
      body = Buffer.alloc(0);
    }
  }
  if (status === 204 || status === 304) delete headers['content-length'];
  else headers['content-length'] = String(body.length);
  return { status, headers, body: method === 'HEAD' ? undefined : body };
}

/** If-Range (RFC 9110 §13.1.5): a strong entity tag or the exact Last-Modified; otherwise the whole body. */
function ifRangeHolds(ifRange: string | undefined, stored: Variant): boolean {
  if (ifRange === undefined) return true;
  if (ifRange.startsWith('"')) return ifRange === first(stored.headers.etag);
  return !ifRange.startsWith('W/') && ifRange === first(stored.headers['last-modified']);
}
