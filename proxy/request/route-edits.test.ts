import { describe, expect, it } from 'vitest';
import { editRequestHeaders, rewriteTarget } from './route-edits.js';

describe('rewriteTarget', () => {
  const strip = (path: string) => ({ path, strip_prefix: true, replace_prefix: undefined });
  const replace = (path: string, to: string) => ({ path, strip_prefix: false, replace_prefix: to });
  it.each([
    [strip('/api/'), '/api/foo?x=1', '/foo?x=1'],
    [strip('/api/'), '/api/', '/'],
    [strip('/api'), '/api', '/'],
    [strip('/api'), '/api/foo', '/foo'],
    [strip('/api'), '/api?x=1', '/?x=1'],
    [replace('/api/', '/v2/'), '/api/foo?x=1', '/v2/foo?x=1'],
    [replace('/api', '/v2'), '/api/foo', '/v2/foo'],
    [replace('/api', '/v2/'), '/api/foo', '/v2/foo'],
    [replace('/old/', '/'), '/old/a/b', '/a/b'],
    [{ path: '/api/', strip_prefix: false, replace_prefix: undefined }, '/api/foo', '/api/foo'],
  ])('%j: %s → %s', (route, url, want) => {
    expect(rewriteTarget(url, route)).toBe(want);
  });
});

describe('editRequestHeaders', () => {
  it('removes, sets and adds', () => {
    const headers: Record<string, string | string[] | undefined> = { cookie: 'a=1', 'x-a': '1', accept: 'text/html' };
    editRequestHeaders(headers, { remove: ['cookie'], set: { 'x-a': '2' }, add: { accept: 'application/json', 'x-new': 'y' } });
    expect(headers).toEqual({ 'x-a': '2', accept: 'text/html, application/json', 'x-new': 'y' });
  });
});
