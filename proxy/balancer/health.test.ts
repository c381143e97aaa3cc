import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { UpstreamConfig } from '../../lib/config/load.js';
import { upstreamSchema } from '../../lib/config/schema.js';
import { autoCap, HealthChecker, readyzReport, type HealthEvents } from './health.js';
import { Upstream, type ServerState } from './upstream.js';

describe('max_inflight: auto from /readyz', () => {
  it.each([
    ['{"slots":1,"queueSize":4}', 2],
    ['{"slots":1,"queueSize":6}', 3],
    ['{"slots":4,"queueSize":0}', 4],
    ['{"slots":2}', 2],
    ['{"status":"ready"}', undefined],
    ['{"slots":0}', undefined],
    ['{"slots":1.5}', undefined],
    ['not json', undefined],
  ])('%s → %s', (body, cap) => expect(readyzReport(body)?.cap).toBe(cap));

  it('adds one request per server only when the server can queue it', () => {
    expect(autoCap(3, 0)).toBe(3);
    expect(autoCap(1, 1)).toBe(2);
  });

  it('adds a second only where two proxies\' caps (a restart\'s overlap) still fit in the slots and queue', () => {
    expect(autoCap(1, 4)).toBe(2); // 2 × 3 > 5
    expect(autoCap(1, 5)).toBe(3); // 2 × 3 = 6
    expect(autoCap(1, 6)).toBe(3);
    expect(autoCap(2, 6)).toBe(4); // 2 × 4 = 8
    expect(autoCap(1, 1000)).toBe(3); // never more than two queued per proxy
    for (const [slots, queue] of [[1, 5], [1, 6], [2, 6], [4, 10], [3, 20]] as const) {
      expect(2 * autoCap(slots, queue)).toBeLessThanOrEqual(slots + queue);
    }
  });
});

/**
 * The default /readyz check of the pool's upstream against servers that are not Portico
 * backends: each answer below is a real HTTP server's on a real socket.
 */
describe('the default /readyz check on a server that is not a Portico backend', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => { s.closeAllConnections(); s.close(resolve); })));
  });

  /** A server answering its /readyz with `status` and `body`; counts the checks it got. */
  async function answering(status: number, body = 'no such page'): Promise<{ url: string; checks: () => number }> {
    let checks = 0;
    const server = createServer((req, res) => {
      if (req.url === '/readyz') checks++;
      res.writeHead(status, { 'content-type': 'text/plain' }).end(body);
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, checks: () => checks };
  }

  /** The pool's upstream as load.ts makes it (`readyzByDefault` unless a path is given), with a default cap of 3. */
  function poolUpstream(url: string, { local = false, path }: { local?: boolean; path?: string } = {}): Upstream {
    const parsed = upstreamSchema.parse({ health: { rise: 1, fall: 1, ...(path !== undefined && { path }) } });
    const config: UpstreamConfig = {
      ...parsed, health: { ...parsed.health, path: path ?? '/readyz', readyzByDefault: path === undefined },
      tls: undefined, name: 'inference', servers: [{ url, weight: 1, local }], dns: [],
    };
    return new Upstream(config, { defaultCap: 3 });
  }

  async function checkedTwice(upstream: Upstream, events: HealthEvents = {}): Promise<ServerState> {
    const checker = new HealthChecker(upstream, events);
    await checker.round();
    await checker.round();
    checker.stop();
    return upstream.servers[0]!;
  }

  it('takes a server whose /readyz is 404 into rotation at once, uncapped, and checks it no more within the minute', async () => {
    const origin = await answering(404);
    const said: string[] = [];
    const server = await checkedTwice(poolUpstream(origin.url), { onPlainHttp: (_u, _s, why, checked) => said.push(`${why}; checked: ${checked}`) });
    expect(server.up).toBe(true);
    expect(server.cap).toBe(Number.POSITIVE_INFINITY);
    expect(server.plainHttp).toBe('GET /readyz answered 404');
    expect(said).toEqual(['GET /readyz answered 404; checked: false']);
    expect(origin.checks()).toBe(1);
  });

  it.each([401, 403, 405])('treats a %i the same way: a Portico backend never answers its /readyz with a client error', async (status) => {
    const server = await checkedTwice(poolUpstream((await answering(status)).url));
    expect(server.up).toBe(true);
    expect(server.uncheckedUntil).toBeGreaterThan(Date.now());
  });

  it('keeps checking a server whose /readyz answers 200 without slots, and leaves it uncapped', async () => {
    const origin = await answering(200, 'ok');
    const server = await checkedTwice(poolUpstream(origin.url));
    expect(server.up).toBe(true);
    expect(server.cap).toBe(Number.POSITIVE_INFINITY);
    expect(server.plainHttp).toMatch(/answers 200 without the compute slots/);
    expect(origin.checks()).toBe(2);
  });

  it('at its next look, a server whose /readyz now answers 200 is checked again, and /status says why as it is now', async () => {
    let status = 404;
    const server = createServer((_req, res) => res.writeHead(status).end('ok'));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const upstream = poolUpstream(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const state = await checkedTwice(upstream);
    expect(state.plainHttp).toBe('GET /readyz answered 404');
    status = 200;
    state.uncheckedUntil = 0; // the minute is up
    await checkedTwice(upstream);
    expect(state.uncheckedUntil).toBe(0);
    expect(state.plainHttp).toMatch(/^its GET \/readyz answers 200 without the compute slots/);
    expect(state.cap).toBe(Number.POSITIVE_INFINITY);
  });

  it('caps a server whose /readyz reports slots, as a Portico backend', async () => {
    const server = await checkedTwice(poolUpstream((await answering(200, '{"slots":2,"queueSize":6}')).url));
    expect(server.cap).toBe(4);
    expect(server.plainHttp).toBeUndefined();
  });

  it('counts a 404 as a failure from a server that has reported slots (a Portico backend behind a front server that 404s for a moment)', async () => {
    let body = '{"slots":1,"queueSize":6}';
    let status = 200;
    const server = createServer((_req, res) => res.writeHead(status).end(body));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const upstream = poolUpstream(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    await checkedTwice(upstream);
    status = 404;
    body = 'not found';
    const state = await checkedTwice(upstream);
    expect(state.healthy).toBe(false);
    expect(state.plainHttp).toBeUndefined();
    expect(state.uncheckedUntil).toBe(0);
  });

  it('forgets what the default check found once a reload sets a path of its own', async () => {
    const origin = await answering(404);
    const upstream = poolUpstream(origin.url);
    const server = await checkedTwice(upstream);
    expect(server.plainHttp).toBeDefined();
    const parsed = upstreamSchema.parse({ health: { rise: 1, fall: 1, path: '/readyz' } });
    upstream.reconfigure({ ...upstream.config, health: { ...parsed.health, path: '/readyz', readyzByDefault: false } }, 3);
    expect(server.plainHttp).toBeUndefined();
    expect(server.uncheckedUntil).toBe(0);
    await checkedTwice(upstream);
    expect(server.healthy).toBe(false); // the user's path, the user's rule: a 404 fails
    expect(server.cap).toBeLessThan(Number.POSITIVE_INFINITY);
  });

  it.each([
    ['a 503 (a backend that is not ready)', 503, {}],
    ['a 429 (try later)', 429, {}],
    ['a 404 from a local backend (something else on its port)', 404, { local: true }],
    ['a 404 on a path the user set', 404, { path: '/readyz' }],
  ])('counts %s as a failed check', async (_what, status, options) => {
    const origin = await answering(status);
    const server = await checkedTwice(poolUpstream(origin.url, options));
    expect(server.healthy).toBe(false);
    expect(server.healthProblem).toBe(String(status));
    expect(server.plainHttp).toBeUndefined();
    expect(Number.isFinite(server.cap)).toBe(true); // capped (slow start holds it at 1 while it is down)
    expect(origin.checks()).toBe(2);
  });
});
