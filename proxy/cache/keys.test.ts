import { describe, expect, it } from 'vitest';
import { clientHasCurrentCopy, etagMatchesAny, mergeNotModified, notModifiedSelects } from './conditional.js';
import { parseCacheControl } from './directives.js';
import type { StoredResponse } from './freshness.js';
import { bodyHash, postKey, primaryKey, secondaryKey, varyFields } from './keys.js';
import { parsePurgeBody, purgeMatchOfTarget } from './purge.js';

describe('cache keys', () => {
  it('keys by lower-cased host and the whole target', () => {
    expect(primaryKey('Example.COM:8080', '/a?b=1')).toBe('example.com:8080 /a?b=1');
    expect(primaryKey('example.com:8080', '/a?b=1')).not.toBe(primaryKey('example.com:8080', '/a?b=2'));
  });
  it('normalises the fields Vary names: spacing, repeated lines, case of codings, absent ≠ empty', () => {
    const fields = varyFields('Accept-Encoding, X-Tenant');
    expect(fields).toEqual(['accept-encoding', 'x-tenant']);
    expect(secondaryKey(fields, { 'accept-encoding': 'GZIP,  br', 'x-tenant': 'a' })).toBe(secondaryKey(fields, { 'accept-encoding': 'gzip,br', 'x-tenant': 'a' }));
    expect(secondaryKey(fields, { 'x-tenant': 'A' })).not.toBe(secondaryKey(fields, { 'x-tenant': 'a' }));
    expect(secondaryKey(fields, { 'x-tenant': '' })).not.toBe(secondaryKey(fields, {}));
  });
  it('hashes JSON bodies in canonical form and other bodies byte for byte', () => {
    expect(bodyHash('application/json', Buffer.from('{"val": 1, "b": [1, 2]}'))).toBe(bodyHash('application/json; charset=utf-8', Buffer.from('{ "b":[1,2],"val":1 }')));
    expect(bodyHash('application/json', Buffer.from('{"val": 1}'))).not.toBe(bodyHash('application/json', Buffer.from('{"val": 2}')));
    expect(bodyHash('text/plain', Buffer.from('a b'))).not.toBe(bodyHash('text/plain', Buffer.from('a  b')));
    expect(bodyHash('text/plain', Buffer.from('{}'))).not.toBe(bodyHash('application/json', Buffer.from('{}')));
    expect(postKey('h', '/p', 'application/json', Buffer.from('{"val":1}'))).toMatch(/^h \/p POST /);
  });
});

describe('validation', () => {
  const s = (headers: Record<string, string>, status = 200): StoredResponse => ({ status, headers, body: Buffer.alloc(0), requestTime: 0, responseTime: 0, cc: parseCacheControl(undefined), lifetime: 0 });
  it('compares entity tags weakly, and * matches any', () => {
    expect(etagMatchesAny('"a", W/"b"', '"b"')).toBe(true);
    expect(etagMatchesAny('W/"a"', '"a"')).toBe(true);
    expect(etagMatchesAny('"a"', '"c"')).toBe(false);
    expect(etagMatchesAny('*', '"c"')).toBe(true);
  });
  it('lets If-None-Match decide over If-Modified-Since', () => {
    const stored = s({ etag: '"v2"', 'last-modified': 'Tue, 24 Nov 2026 10:00:00 GMT' });
    expect(clientHasCurrentCopy({ 'if-none-match': '"v1"', 'if-modified-since': 'Tue, 24 Nov 2026 11:00:00 GMT' }, stored)).toBe(false);
    expect(clientHasCurrentCopy({ 'if-modified-since': 'Tue, 24 Nov 2026 11:00:00 GMT' }, stored)).toBe(true);
    expect(clientHasCurrentCopy({ 'if-modified-since': 'Tue, 24 Nov 2026 09:00:00 GMT' }, stored)).toBe(false);
    expect(clientHasCurrentCopy({ 'if-none-match': '"v2"' }, s({ etag: '"v2"' }, 404))).toBe(false);
  });
  it('merges a 304 into the stored headers, except Content-Length', () => {
    expect(mergeNotModified({ 'content-length': '10', 'cache-control': 'max-age=1', 'x-a': '1' }, { 'content-length': '0', 'cache-control': 'max-age=99', 'x-b': '2' }))
      .toEqual({ 'content-length': '10', 'cache-control': 'max-age=99', 'x-a': '1', 'x-b': '2' });
  });
  it('takes a 304 for the stored response only when entity tags agree', () => {
    expect(notModifiedSelects(s({ etag: '"a"' }), { etag: '"a"' })).toBe(true);
    expect(notModifiedSelects(s({ etag: '"a"' }), { etag: '"b"' })).toBe(false);
    expect(notModifiedSelects(s({}), { etag: '"b"' })).toBe(true);
  });
});

describe('purge requests', () => {
  it.each<[string, ReturnType<typeof parsePurgeBody>]>([
    ['{"url": "/api/foo?val=1"}', { target: '/api/foo?val=1' }],
    ['{"url": "http://Example.com:8080/x?y"}', { target: '/x?y', host: 'example.com:8080' }],
    ['{"prefix": "/api/", "host": "h"}', { prefix: '/api/', host: 'h' }],
  ])('%s', (text, want) => expect(parsePurgeBody(text)).toEqual(want));
  it.each(['nope', '[]', '{}', '{"url": "/a", "prefix": "/"}', '{"prefix": "api"}', '{"url": "api"}', '{"url": "/a", "extra": 1}', '{"prefix": "/", "host": ""}'])('refuses %s with a message', (text) => {
    expect(typeof parsePurgeBody(text)).toBe('string');
  });
  it('reads PURGE targets, a trailing * as a prefix', () => {
    expect(purgeMatchOfTarget('/api/*')).toEqual({ prefix: '/api/' });
    expect(purgeMatchOfTarget('/api/foo?val=1')).toEqual({ target: '/api/foo?val=1' });
  });
});
