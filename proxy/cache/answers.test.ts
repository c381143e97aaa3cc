/** The cache's pure rules beside its I/O: what the origin's answer does, and what a stored response answers. On a fixed clock. */
import { describe, expect, it } from 'vitest';
import { parseCacheControl } from './directives.js';
import { sortOriginAnswer, type OriginFacts } from './origin-answer.js';
import { storedAnswer } from './stored-answer.js';
import { makeVariant, refreshVariant } from './variant.js';

const T0 = Date.parse('Tue, 01 Dec 2026 09:00:00 GMT');
const date = (ms: number) => new Date(ms).toUTCString();
const NONE = parseCacheControl(undefined);
const body = Buffer.from('0123456789abcdef');

function variant(headers: Record<string, string>, at = T0) {
  return makeVariant({}, 200, { date: date(at), ...headers }, body, at, at);
}

function facts(over: Partial<OriginFacts>): OriginFacts {
  return { stored: undefined, status: 200, headers: { date: date(T0), 'cache-control': 'max-age=60' }, requestMethod: 'GET', requestCc: NONE, authorized: false, maxObjectBytes: 1 << 20, responseTime: T0, background: false, ...over };
}

describe('sortOriginAnswer', () => {
  const stored = variant({ 'cache-control': 'max-age=10, stale-if-error=60', etag: '"a"' });
  it.each([
    ['a storable 200', facts({}), 'store'],
    ['a 304 for what is stored', facts({ stored, status: 304, headers: { etag: '"a"' } }), 'refresh'],
    ['a 304 for another representation', facts({ stored, status: 304, headers: { etag: '"b"' } }), 'pass'],
    ['a 503 while stale-if-error holds', facts({ stored, status: 503, headers: {}, responseTime: T0 + 30_000 }), 'stale'],
    ['a 503 in the background, stale-if-error over', facts({ stored, status: 503, headers: {}, responseTime: T0 + 120_000, background: true }), 'pass'],
    ['no-store', facts({ headers: { 'cache-control': 'no-store' } }), 'pass'],
    ['a POST without explicit freshness', facts({ requestMethod: 'POST', headers: { date: date(T0) } }), 'pass'],
    ['larger than max_object_bytes', facts({ headers: { 'cache-control': 'max-age=60', 'content-length': '2000000' } }), 'pass'],
  ])('%s → %s', (_, input, kind) => {
    expect(sortOriginAnswer(input).kind).toBe(kind);
  });

  it('drops the stored response when a newer one may not be stored, but not for an error', () => {
    expect(sortOriginAnswer(facts({ stored, headers: { 'cache-control': 'no-store' } }))).toMatchObject({ kind: 'pass', dropStored: true });
    expect(sortOriginAnswer(facts({ stored, status: 404, headers: { 'cache-control': 'no-store' } }))).toMatchObject({ kind: 'pass', dropStored: false });
  });
});

describe('refreshVariant', () => {
  it('takes the 304\'s headers and clocks, keeps the body, and starts its freshness again', () => {
    const stored = variant({ 'cache-control': 'max-age=10', etag: '"a"' });
    const later = T0 + 60_000;
    const updated = refreshVariant(stored, { 'cache-control': 'max-age=30', etag: '"a"' }, later, later);
    expect(updated.body).toBe(stored.body);
    expect(updated.lifetime).toBe(30);
    expect(updated.headers.date).toBe(date(later)); // no Date in the 304: the time it came
    expect(storedAnswer('GET', {}, updated, 'REVALIDATED', later + 5_000).headers.age).toBe('5');
  });
});

describe('storedAnswer', () => {
  const stored = variant({ 'cache-control': 'max-age=60', etag: '"a"', 'last-modified': date(T0 - 86_400_000) });
  it('answers the whole body with Age and X-Cache', () => {
    const a = storedAnswer('GET', {}, stored, 'HIT', T0 + 7_000);
    expect(a).toMatchObject({ status: 200, body });
    expect(a.headers).toMatchObject({ age: '7', 'x-cache': 'HIT', 'content-length': '16' });
  });
  it('answers the client\'s own validators with 304 and no body', () => {
    expect(storedAnswer('GET', { 'if-none-match': '"a"' }, stored, 'HIT', T0)).toMatchObject({ status: 304, body: undefined });
  });
  it('answers a range with 206, an impossible one with 416, and ignores it when If-Range does not hold', () => {
    const part = storedAnswer('GET', { range: 'bytes=2-5' }, stored, 'HIT', T0);
    expect(part).toMatchObject({ status: 206, body: Buffer.from('2345') });
    expect(part.headers['content-range']).toBe('bytes 2-5/16');
    expect(storedAnswer('GET', { range: 'bytes=100-' }, stored, 'HIT', T0)).toMatchObject({ status: 416 });
    expect(storedAnswer('GET', { range: 'bytes=2-5', 'if-range': '"other"' }, stored, 'HIT', T0).status).toBe(200);
    expect(storedAnswer('GET', { range: 'bytes=2-5', 'if-range': 'W/"a"' }, stored, 'HIT', T0).status).toBe(200);
  });
  it('answers HEAD with the headers only', () => {
    const head = storedAnswer('HEAD', {}, stored, 'HIT', T0);
    expect(head).toMatchObject({ status: 200, body: undefined });
    expect(head.headers['content-length']).toBe('16');
  });
});
