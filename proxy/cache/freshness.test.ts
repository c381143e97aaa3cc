import { describe, expect, it } from 'vitest';
import { deltaSeconds, parseCacheControl, parseHttpDate } from './directives.js';
import { currentAge, freshnessLifetime, judge, notStorableReason, staleIfErrorAllowed, type StoredResponse } from './freshness.js';

const T0 = Date.parse('Tue, 24 Nov 2026 12:00:00 GMT');
const httpDate = (ms: number) => new Date(ms).toUTCString();
const NONE = parseCacheControl(undefined);

function stored(headers: Record<string, string>, opts: { status?: number; requestTime?: number; responseTime?: number } = {}): StoredResponse {
  const all: Record<string, string> = { date: httpDate(T0), ...headers };
  const responseTime = opts.responseTime ?? T0;
  const cc = parseCacheControl(all['cache-control']);
  return { status: opts.status ?? 200, headers: all, body: Buffer.alloc(0), requestTime: opts.requestTime ?? responseTime, responseTime, cc, lifetime: freshnessLifetime(opts.status ?? 200, all, responseTime, cc) };
}

describe('Cache-Control parsing', () => {
  it('reads tokens, quoted arguments with commas, case-insensitive names, and marks repeats', () => {
    const d = parseCacheControl('Public, MAX-AGE="60", no-cache="set-cookie, x-a", max-age=5, s-maxage = 10');
    expect(d.values.get('public')).toBe('');
    expect(d.values.get('max-age')).toBe('60');
    expect(d.values.get('no-cache')).toBe('set-cookie, x-a');
    expect(d.values.get('s-maxage')).toBe('10');
    expect([...d.repeated]).toEqual(['max-age']);
  });
  it('joins several header lines', () => {
    expect([...parseCacheControl(['max-age=1', 'public']).values.keys()]).toEqual(['max-age', 'public']);
  });
  it.each([['0060', 60], ['0', 0], ['99999999999', 2 ** 31], ['-1', undefined], ['1.5', undefined], ['', undefined]])('delta-seconds %j → %j', (text, want) => {
    expect(deltaSeconds(text)).toBe(want);
  });
  it('parses the three HTTP-date forms as GMT and refuses the rest', () => {
    const want = Date.parse('1994-11-06T08:49:37Z');
    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT')).toBe(want);
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT')).toBe(want);
    expect(parseHttpDate('Sun Nov  6 08:49:37 1994')).toBe(want);
    expect(parseHttpDate('0')).toBeUndefined();
    expect(parseHttpDate('-1')).toBeUndefined();
    expect(parseHttpDate('yesterday')).toBeUndefined();
  });
});

describe('freshness lifetime (shared cache)', () => {
  it.each<[string, Record<string, string>, number]>([
    ['s-maxage wins over max-age', { 'cache-control': 'max-age=10, s-maxage=60' }, 60],
    ['max-age wins over Expires', { 'cache-control': 'max-age=10', expires: httpDate(T0 + 3600_000) }, 10],
    ['Expires minus Date', { expires: httpDate(T0 + 120_000) }, 120],
    ['Expires in the past', { expires: httpDate(T0 - 1000) }, 0],
    ['an invalid Expires is already expired', { expires: '0' }, 0],
    ['an invalid max-age is stale', { 'cache-control': 'max-age=ten' }, 0],
    ['a heuristic of 10 % since Last-Modified', { 'last-modified': httpDate(T0 - 1000_000) }, 100],
    ['the heuristic is capped at a day', { 'last-modified': httpDate(T0 - 365 * 86_400_000) }, 86_400],
    ['no explicit freshness and no Last-Modified: none', {}, 0],
  ])('%s', (_name, headers, want) => {
    expect(stored(headers).lifetime).toBe(want);
  });
  it('gives no heuristic to a status that is not cacheable by default', () => {
    expect(stored({ 'last-modified': httpDate(T0 - 1000_000) }, { status: 500 }).lifetime).toBe(0);
  });
  it('takes conflicting max-age values as stale', () => {
    expect(stored({ 'cache-control': 'max-age=60, max-age=120' }).lifetime).toBe(0);
  });
});

describe('current age (RFC 9111 §4.2.3)', () => {
  it('adds resident time to the corrected initial age', () => {
    const s = stored({ age: '30' }, { requestTime: T0 - 2000, responseTime: T0 });
    expect(currentAge(s, T0 + 10_000)).toBe(30 + 2 + 10);
  });
  it('uses the apparent age when the Date is older than Age says', () => {
    const s = stored({ date: httpDate(T0 - 100_000), age: '5' });
    expect(currentAge(s, T0)).toBe(100);
  });
  it('ignores an invalid Age', () => {
    expect(currentAge(stored({ age: 'soon' }), T0)).toBe(0);
  });
});

describe('storability', () => {
  const ok = (headers: Record<string, string>, extra: Partial<{ status: number; authorized: boolean; requestCc: string }> = {}) =>
    notStorableReason({ status: extra.status ?? 200, headers, requestCc: parseCacheControl(extra.requestCc), authorized: extra.authorized ?? false }, T0);
  it.each<[string, Record<string, string>, Partial<{ status: number; authorized: boolean; requestCc: string }>, boolean]>([
    ['max-age', { 'cache-control': 'max-age=60' }, {}, true],
    ['no-store', { 'cache-control': 'no-store, max-age=60' }, {}, false],
    ['must-understand overrides no-store for a known status', { 'cache-control': 'no-store, must-understand, max-age=60' }, {}, true],
    ['a request with no-store', { 'cache-control': 'max-age=60' }, { requestCc: 'no-store' }, false],
    ['private', { 'cache-control': 'private, max-age=60' }, {}, false],
    ['Authorization without permission', { 'cache-control': 'max-age=60' }, { authorized: true }, false],
    ['Authorization with public', { 'cache-control': 'public, max-age=60' }, { authorized: true }, true],
    ['Authorization with s-maxage', { 'cache-control': 's-maxage=60' }, { authorized: true }, true],
    ['Authorization with must-revalidate', { 'cache-control': 'must-revalidate, max-age=60' }, { authorized: true }, true],
    ['Vary: *', { 'cache-control': 'max-age=60', vary: '*' }, {}, false],
    ['Set-Cookie', { 'cache-control': 'max-age=60', 'set-cookie': 'a=1' }, {}, false],
    ['206', { 'cache-control': 'max-age=60' }, { status: 206 }, false],
    ['a 500 with max-age', { 'cache-control': 'max-age=60' }, { status: 500 }, true],
    ['a 500 without explicit freshness', { 'last-modified': httpDate(T0 - 1000_000) }, { status: 500 }, false],
    ['a 404 with only a validator (heuristic status)', { etag: '"x"' }, { status: 404 }, true],
    ['an unknown status', { 'cache-control': 'max-age=60' }, { status: 299 }, false],
    ['stale on arrival, no validator', { 'cache-control': 'max-age=0' }, {}, false],
    ['stale on arrival, with a validator', { 'cache-control': 'no-cache', etag: '"v1"' }, {}, true],
  ])('%s → %s', (_name, headers, extra, want) => {
    expect(ok(headers, extra) === undefined).toBe(want);
  });
});

describe('judging a stored response for a request', () => {
  const at = (seconds: number) => T0 + seconds * 1000;
  const req = (cc?: string) => parseCacheControl(cc);
  it('is fresh within its lifetime and needs validation past it', () => {
    const s = stored({ 'cache-control': 'max-age=60' });
    expect(judge(s, NONE, false, at(59))).toBe('fresh');
    expect(judge(s, NONE, false, at(60))).toBe('validate');
  });
  it('honours request max-age, min-fresh, max-stale and no-cache', () => {
    const s = stored({ 'cache-control': 'max-age=60' });
    expect(judge(s, req('max-age=10'), false, at(20))).toBe('validate');
    expect(judge(s, req('max-age=30'), false, at(20))).toBe('fresh');
    expect(judge(s, req('min-fresh=50'), false, at(20))).toBe('validate');
    expect(judge(s, req('max-stale=30'), false, at(80))).toBe('stale-allowed');
    expect(judge(s, req('max-stale=10'), false, at(80))).toBe('validate');
    expect(judge(s, req('max-stale'), false, at(100_000))).toBe('stale-allowed');
    expect(judge(s, req('no-cache'), false, at(1))).toBe('validate');
    expect(judge(s, NONE, true, at(1))).toBe('validate'); // Pragma: no-cache
  });
  it('always validates a response marked no-cache', () => {
    expect(judge(stored({ 'cache-control': 'no-cache, max-age=60', etag: '"a"' }), NONE, false, at(1))).toBe('validate');
  });
  it('never serves stale what must-revalidate, proxy-revalidate or s-maxage protects', () => {
    for (const cc of ['max-age=1, must-revalidate', 'max-age=1, proxy-revalidate', 's-maxage=1']) {
      expect(judge(stored({ 'cache-control': cc }), req('max-stale'), false, at(5))).toBe('validate');
    }
  });
  it('serves stale while revalidating within the window, and not past it', () => {
    const s = stored({ 'cache-control': 'max-age=10, stale-while-revalidate=30' });
    expect(judge(s, NONE, false, at(20))).toBe('stale-while-revalidate');
    expect(judge(s, NONE, false, at(41))).toBe('validate');
  });
  it('allows stale-if-error from the response or the request, within its window', () => {
    expect(staleIfErrorAllowed(stored({ 'cache-control': 'max-age=10, stale-if-error=60' }), NONE, at(30))).toBe(true);
    expect(staleIfErrorAllowed(stored({ 'cache-control': 'max-age=10, stale-if-error=60' }), NONE, at(100))).toBe(false);
    expect(staleIfErrorAllowed(stored({ 'cache-control': 'max-age=10' }), req('stale-if-error=60'), at(30))).toBe(true);
    expect(staleIfErrorAllowed(stored({ 'cache-control': 'max-age=10, must-revalidate, stale-if-error=60' }), NONE, at(30))).toBe(false);
  });
});
