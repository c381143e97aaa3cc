import { describe, expect, it } from 'vitest';
import { EJECT_MS, Upstream } from './upstream.js';

const config = {
  name: 'inference',
  policy: 'round-robin' as const,
  servers: [
    { url: 'http://a', weight: 1, local: true },
    { url: 'http://b', weight: 1, local: true },
    { url: 'http://r', weight: 1, local: false },
  ],
};

describe('Upstream', () => {
  it('under a master, takes local servers only from its announcements, and only the ready ones', () => {
    const upstream = new Upstream(config, true);
    expect(upstream.servers.map((s) => s.url)).toEqual(['http://r']);
    upstream.setLocalServers([{ url: 'http://a', state: 'ready' }, { url: 'http://b', state: 'starting' }]);
    const picks = new Set(Array.from({ length: 4 }, () => upstream.pick()?.url));
    expect(picks).toEqual(new Set(['http://a', 'http://r']));
  });

  it('keeps a local server\'s in-flight count across announcements, and drops servers no longer listed', () => {
    const upstream = new Upstream(config, true);
    upstream.setLocalServers([{ url: 'http://a', state: 'ready' }]);
    upstream.servers.find((s) => s.url === 'http://a')!.inflight = 3;
    upstream.setLocalServers([{ url: 'http://a', state: 'draining' }, { url: 'http://c', state: 'ready' }]);
    expect(upstream.stats().servers).toEqual([
      { url: 'http://r', local: false, up: true, state: 'ready', inflight: 0 },
      { url: 'http://a', local: true, up: false, state: 'draining', inflight: 3 },
      { url: 'http://c', local: true, up: true, state: 'ready', inflight: 0 },
    ]);
    upstream.setLocalServers([]);
    expect(upstream.servers.map((s) => s.url)).toEqual(['http://r']);
  });

  it('without a master, treats the configured local servers as up', () => {
    expect(new Upstream(config, false).stats().servers.map((s) => s.up)).toEqual([true, true, true]);
  });

  it('skips ejected servers until the ejection ends, and servers already tried', () => {
    let now = 1000;
    const upstream = new Upstream(config, false, () => now);
    const [a, b, r] = upstream.servers as [typeof upstream.servers[0], typeof upstream.servers[0], typeof upstream.servers[0]];
    upstream.eject(r);
    expect(new Set(Array.from({ length: 4 }, () => upstream.pick()?.url))).toEqual(new Set(['http://a', 'http://b']));
    expect(upstream.pick(new Set([a, b]))).toBeUndefined();
    now += EJECT_MS;
    expect(upstream.pick(new Set([a, b]))?.url).toBe('http://r');
  });
});
