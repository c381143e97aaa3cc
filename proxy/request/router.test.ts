import { describe, expect, it } from 'vitest';
import type { RouteConfig } from '../../lib/config/load.js';
import { Router } from './router.js';

const none = { set: {}, add: {}, remove: [] };
const route = (name: string, path: string, host?: string[]): RouteConfig => ({
  name, path, host, upstream: 'u', limits: { max_body: 1024 }, cache_control: [], cache: { enabled: false, post: false },
  strip_prefix: false, request_headers: none, response_headers: none, compress: { enabled: false, min_bytes: 1024, types: [] },
});
const router = new Router([route('root', '/'), route('api', '/api/'), route('foo', '/api/foo'), route('docs', '/docs')]);

describe('Router', () => {
  it.each([
    ['/', 'root'], ['/index.html', 'root'], ['/api/', 'api'], ['/api/bar', 'api'], ['/api/foo', 'foo'],
    ['/api/foo/x', 'foo'], ['/api/foobar', 'api'], ['/docs', 'docs'], ['/docs/a', 'docs'], ['/docsx', 'root'], ['/api', 'root'],
  ])('%s → %s', (path, name) => {
    expect(router.match(path)?.name).toBe(name);
  });

  it('matches nothing when no prefix fits', () => {
    expect(new Router([route('api', '/api/')]).match('/other')).toBeUndefined();
  });
});

describe('Router with hosts', () => {
  const router = new Router([
    route('default', '/'), route('default-api', '/api/'),
    route('exact', '/', ['api.example.com']), route('exact-v1', '/v1/', ['api.example.com']),
    route('wild', '/', ['*.example.com']), route('deeper', '/', ['*.eu.example.com']),
    route('two', '/', ['a.test', 'b.test']),
  ]);
  it.each([
    ['api.example.com', '/', 'exact'], ['API.Example.com:8080', '/v1/x', 'exact-v1'], ['api.example.com.', '/', 'exact'],
    ['www.example.com', '/x', 'wild'], ['x.eu.example.com', '/', 'deeper'], ['example.com', '/', 'default'],
    ['b.test', '/', 'two'], ['other.org', '/api/x', 'default-api'], [undefined, '/api/x', 'default-api'], ['[::1]:8080', '/', 'default'],
  ])('%s %s → %s', (host, path, name) => {
    expect(router.match(path, host)?.name).toBe(name);
  });
  it('does not hand a matched host\'s unknown path to the default routes', () => {
    expect(new Router([route('d', '/'), route('h', '/app/', ['h.test'])]).match('/x', 'h.test')).toBeUndefined();
  });
});
