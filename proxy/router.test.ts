import { describe, expect, it } from 'vitest';
import type { RouteConfig } from '../lib/config/load.js';
import { Router } from './router.js';

const route = (name: string, path: string): RouteConfig => ({ name, path, upstream: 'u', limits: { max_body: 1024 }, cache_control: [], cache: { enabled: false, post: false } });
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
