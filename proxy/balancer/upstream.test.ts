import { describe, expect, it } from 'vitest';
import type { UpstreamConfig } from '../../lib/config/load.js';
import { upstreamSchema } from '../../lib/config/schema.js';
import { ClientLeft } from '../../lib/client-left.js';
import { ShedError, Upstream, type ServerState } from './upstream.js';

type Overrides = Record<string, unknown>;

function configOf(overrides: Overrides = {}, urls = ['http://a', 'http://b']): UpstreamConfig {
  const parsed = upstreamSchema.parse({ policy: 'round-robin', max_inflight: 1, queue: { size: 2, timeout: '200ms' }, ...overrides });
  return {
    ...parsed,
    health: { ...parsed.health, path: parsed.health.path ?? '', readyzByDefault: false },
    tls: undefined,
    name: 'u',
    servers: urls.map((url) => ({ url, weight: 1, local: false })),
    dns: [],
  };
}

/** One failed attempt (a reset) on `server`, through the upstream; the ejection's length in ms when it ejected the server. */
function fail(upstream: Upstream, server: ServerState, clock: { now: number }): number | undefined {
  const before = server.ejectedUntil;
  upstream.recordAttempt(server, { kind: 'error', code: 'ECONNRESET', sent: true, timedOut: false });
  return server.ejectedUntil !== before ? server.ejectedUntil - clock.now : undefined;
}

function fakeClock(start = 1_000_000) {
  const clock = { now: start, fn: () => clock.now };
  return clock;
}

const shedReason = (p: Promise<unknown>) => p.then(() => 'granted', (e: ShedError) => e.reason);

describe('Upstream: caps and the central queue', () => {
  it('gives each server up to its cap, then queues, then sheds when the queue is full', async () => {
    const upstream = new Upstream(configOf());
    const a = await upstream.acquire({});
    const b = await upstream.acquire({});
    expect([a.url, b.url].sort()).toEqual(['http://a', 'http://b']);
    const q1 = upstream.acquire({});
    const q2 = upstream.acquire({});
    await expect(shedReason(upstream.acquire({}))).resolves.toBe('queue_full');
    expect(upstream.queueDepth()).toBe(2);
    upstream.release(a);
    expect((await q1).url).toBe('http://a'); // FIFO: the oldest waiter gets the freed slot at once
    upstream.release(b);
    expect((await q2).url).toBe('http://b');
    expect(upstream.stats().shed.queue_full).toBe(1);
  });

  it('serves the newest first while more wait than the servers can serve within the timeout, and the oldest again below that', async () => {
    // One server, cap 1, 100 ms per request, 200 ms timeout: two can be served in time.
    const upstream = new Upstream(configOf({ queue: { size: 10, timeout: '200ms' } }, ['http://a']));
    const server = upstream.servers[0]!;
    server.recordSuccess(100);
    let held = await upstream.acquire({});
    const order: string[] = [];
    const waiters = ['w1', 'w2', 'w3'].map((name) => upstream.acquire({}).then((s) => { order.push(name); return s; }));
    expect(upstream.stats().queue).toMatchObject({ depth: 3, order: 'adaptive', newestFirst: true });
    upstream.release(held);
    held = await waiters[2]!; // 3 waiting > 2 servable: the newest goes first
    expect(upstream.stats().queue.newestFirst).toBe(false); // 2 left: oldest first again
    upstream.release(held);
    held = await waiters[0]!;
    upstream.release(held);
    upstream.release(await waiters[1]!);
    expect(order).toEqual(['w3', 'w1', 'w2']);
    expect(server.inflight).toBe(0);
  });

  it('with queue.order fifo, serves the oldest first even under overload', async () => {
    const upstream = new Upstream(configOf({ queue: { size: 10, timeout: '200ms', order: 'fifo' } }, ['http://a']));
    upstream.servers[0]!.recordSuccess(100);
    const held = await upstream.acquire({});
    const waiters = [0, 1, 2].map(() => upstream.acquire({}));
    expect(upstream.stats().queue.newestFirst).toBe(false);
    upstream.release(held);
    const first = await Promise.race(waiters.map((w, i) => w.then(() => i)));
    expect(first).toBe(0);
    upstream.close();
    await Promise.allSettled(waiters);
  });

  it('sheds a request that waited past the queue timeout, and reports the wait of one that got through', async () => {
    const waits: number[] = [];
    const upstream = new Upstream(configOf({ queue: { size: 5, timeout: '50ms' } }, ['http://a']), { defaultCap: 1, events: { onQueueWait: (ms) => waits.push(ms) } });
    const held = await upstream.acquire({});
    const started = Date.now();
    await expect(shedReason(upstream.acquire({}))).resolves.toBe('queue_timeout');
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    const next = upstream.acquire({});
    setTimeout(() => upstream.release(held), 20);
    await next;
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeGreaterThanOrEqual(15);
  });

  it('with queue size 0, sheds at once when every server is full', async () => {
    const upstream = new Upstream(configOf({ queue: { size: 0 } }, ['http://a']));
    await upstream.acquire({});
    await expect(shedReason(upstream.acquire({}))).resolves.toBe('queue_full');
  });

  it('drops a queued request whose client went away, and never gives it a server', async () => {
    const upstream = new Upstream(configOf({}, ['http://a']));
    const held = await upstream.acquire({});
    const gone = new ClientLeft();
    const abandoned = upstream.acquire({}, gone);
    const kept = upstream.acquire({});
    gone.abort();
    await expect(shedReason(abandoned)).resolves.toBe('client_gone');
    expect(upstream.queueDepth()).toBe(1);
    upstream.release(held);
    const server = await kept;
    upstream.release(server);
    expect(upstream.stats().servers[0]).toMatchObject({ inflight: 0 });
  });

  it('answers 503 at once when no server is up, and empties the queue when the last one goes down', async () => {
    const upstream = new Upstream(configOf({}, ['http://a']));
    const held = await upstream.acquire({});
    const queued = upstream.acquire({});
    held.healthy = false;
    upstream.dispatch();
    await expect(shedReason(queued)).resolves.toBe('no_server');
    await expect(shedReason(upstream.acquire({}))).resolves.toBe('no_server');
  });

  it('divides an auto cap between the proxies sharing the servers (replicas), never below 1', () => {
    const upstream = new Upstream(configOf({ max_inflight: 'auto' }, ['http://a']), { defaultCap: 4, replicas: 2 });
    expect(upstream.stats().servers[0]!.cap).toBe(2);
    upstream.servers[0]!.reportedCap = 3;
    expect(upstream.stats().servers[0]!.cap).toBe(1);
    const fixed = new Upstream(configOf({ max_inflight: 5 }, ['http://a']), { defaultCap: 4, replicas: 2 });
    expect(fixed.stats().servers[0]!.cap).toBe(5); // an explicit cap is the operator's own
  });

  it('takes the cap from the server\'s /readyz with max_inflight: auto', async () => {
    const upstream = new Upstream(configOf({ max_inflight: 'auto' }, ['http://a']), { defaultCap: 1 });
    upstream.servers[0]!.reportedCap = 3;
    const granted = await Promise.all([upstream.acquire({}), upstream.acquire({}), upstream.acquire({})]);
    expect(granted.every((s) => s.url === 'http://a')).toBe(true);
    expect(upstream.stats().servers[0]).toMatchObject({ inflight: 3, cap: 3 });
  });

  it('leaves a server that reports nothing uncapped with max_inflight: auto, until its /readyz reports slots', async () => {
    const upstream = new Upstream(configOf({ max_inflight: 'auto', queue: { size: 0, timeout: '1s' } }, ['http://a']));
    const granted = await Promise.all(Array.from({ length: 50 }, () => upstream.acquire({})));
    expect(granted.every((s) => s.url === 'http://a')).toBe(true);
    expect(upstream.queueDepth()).toBe(0);
    expect(upstream.stats().servers[0]).toMatchObject({ inflight: 50, cap: null });
    upstream.servers[0]!.reportedCap = 2;
    expect(upstream.stats().servers[0]!.cap).toBe(2);
    await expect(shedReason(upstream.acquire({}))).resolves.toBe('queue_full'); // capped now, and the queue holds none
  });

  it('says in the 503 why every server is down', async () => {
    const clock = fakeClock();
    const upstream = new Upstream(configOf({ health: { path: '/readyz' } }, ['http://a', 'http://b']), { defaultCap: 1, now: clock.fn });
    const [a, b] = upstream.servers as [ServerState, ServerState];
    a.healthy = false;
    a.healthProblem = '404';
    b.healthy = false;
    b.healthProblem = 'connection refused';
    const err = await upstream.acquire({}).catch((e: ShedError) => e);
    expect(err).toBeInstanceOf(ShedError);
    // The client's 503 names servers by their place, not their addresses.
    expect((err as ShedError).message).toBe('no server of upstream "u" is up: server 1 failed its health check GET /readyz: 404; '
      + 'server 2 failed its health check GET /readyz: connection refused');
    b.healthProblem = 'TLS error: Hostname/IP does not match certificate\'s altnames: Host: b.internal';
    expect(((await upstream.acquire({}).catch((e: ShedError) => e)) as ShedError).message).toContain('server 2 failed its health check GET /readyz: TLS error');
    expect(((await upstream.acquire({}).catch((e: ShedError) => e)) as ShedError).message).not.toContain('internal');
    // /status (admin) and the log have the addresses and the whole text.
    expect(upstream.stats().servers.map((s) => s.down)).toEqual([
      'server http://a failed its health check GET /readyz: 404',
      'server http://b failed its health check GET /readyz: TLS error: Hostname/IP does not match certificate\'s altnames: Host: b.internal',
    ]);
  });

  it('does not let a queued retry that excludes the only free server hold up the requests behind it', async () => {
    const upstream = new Upstream(configOf({ queue: { size: 5, timeout: '1s' } }));
    const a = await upstream.acquire({});
    const b = await upstream.acquire({});
    const retry = upstream.acquire({}, undefined, new Set([a])); // may only go to b
    const fresh = upstream.acquire({});
    upstream.release(a); // a frees: the retry may not take it, the fresh request may
    expect((await fresh).url).toBe(a.url);
    upstream.release(b);
    expect((await retry).url).toBe(b.url);
  });

  it('on a retry, never hands back a server the request already tried', async () => {
    const upstream = new Upstream(configOf({ max_inflight: 5 }));
    const first = await upstream.acquire({});
    upstream.release(first);
    for (let i = 0; i < 5; i++) {
      const other = await upstream.acquire({}, undefined, new Set([first]));
      expect(other).not.toBe(first);
      upstream.release(other);
    }
    const everyone = new Set<ServerState>(upstream.servers);
    await expect(shedReason(upstream.acquire({}, undefined, everyone))).resolves.toBe('no_server');
  });
});

describe('Upstream: the queue ranked by learnt cost (issue 22)', () => {
  /** One server, cap 1, that has answered `cheap` in 10 ms and `dear` in 1000 ms; one call holding it. */
  async function learnt(priority?: 'cost' | 'arrival') {
    const clock = fakeClock();
    const upstream = new Upstream(configOf({ queue: { size: 10, timeout: '10s', order: 'fifo', ...(priority ? { priority } : {}) } }, ['http://a']), { now: clock.fn });
    const server = upstream.servers[0]!;
    for (const [costKey, headersMs] of [['GET /cheap', 10], ['GET /dear', 1000]] as const) {
      upstream.recordAttempt(await upstream.acquire({ costKey }), { kind: 'response', status: 200, retryAfter: undefined, headersMs }, { costKey });
      upstream.release(server);
    }
    const held = await upstream.acquire({ costKey: 'GET /cheap' });
    const order: string[] = [];
    const wait = (name: string, costKey: string) => upstream.acquire({ costKey }).then((s) => { order.push(name); return s; });
    /** Frees the server `times` times, each time letting the next waiter through. */
    const serve = async (times: number) => {
      for (let i = 0; i < times; i++) {
        const served = order.length;
        upstream.release(server);
        while (order.length === served) await Promise.resolve();
      }
    };
    return { clock, upstream, server, held, order, wait, serve };
  }

  it('serves a cheap call before a dear one that came a little earlier, and a cheap one that came long after the dear one after it', async () => {
    const { clock, upstream, order, wait, serve } = await learnt();
    void wait('dear', 'GET /dear');
    clock.now += 5;
    void wait('cheap 5 ms later', 'GET /cheap');
    clock.now += 2000; // past the dear call's own cost: it may not be overtaken any more
    void wait('cheap 2 s later', 'GET /cheap');
    expect(upstream.stats().queue).toMatchObject({ depth: 3, priority: 'cost', costsLearnt: 2 });
    await serve(3);
    expect(order).toEqual(['cheap 5 ms later', 'dear', 'cheap 2 s later']);
  });

  it('ranks an unknown target by the upstream\'s average: after known cheap calls, before known dear ones', async () => {
    const { order, wait, serve } = await learnt();
    void wait('dear', 'GET /dear');
    void wait('unknown', 'GET /cheap?cache-buster=1');
    void wait('cheap', 'GET /cheap');
    await serve(3);
    expect(order).toEqual(['cheap', 'unknown', 'dear']);
  });

  it('with queue.priority arrival, serves by arrival alone', async () => {
    const { clock, order, wait, serve } = await learnt('arrival');
    void wait('dear', 'GET /dear');
    clock.now += 5;
    void wait('cheap', 'GET /cheap');
    await serve(2);
    expect(order).toEqual(['dear', 'cheap']);
  });

  it('a server computing a call known to be dear takes requests only into its free slots, not its queue, until the call ends', async () => {
    const upstream = new Upstream(configOf({ max_inflight: 3 }, ['http://a', 'http://b']));
    const [a, b] = upstream.servers as [ServerState, ServerState];
    for (const server of [a, b]) server.reportedSlots = 1;
    const answer = (server: ServerState, costKey: string, headersMs: number) =>
      upstream.recordAttempt(server, { kind: 'response', status: 200, retryAfter: undefined, headersMs }, { costKey });
    // Learnt: 30 cheap answers of 10 ms, a dear target of 1000 ms.
    for (let i = 0; i < 30; i++) answer(a, 'GET /cheap', 10);
    for (let i = 0; i < 3; i++) answer(a, 'GET /dear', 1000);
    const dearCtx = { costKey: 'GET /dear' };
    const dear = await upstream.acquire(dearCtx, undefined, new Set([b])); // on a
    expect(dear).toBe(a);
    expect(upstream.stats().servers[0]).toMatchObject({ inflight: 1, dear: 1 });
    expect(a.available).toBe(false); // its one slot computes the dear call; its queue is closed
    // Cheap requests go to b, up to b's cap, and then wait here rather than behind the dear call.
    for (let i = 0; i < 3; i++) expect(await upstream.acquire({ costKey: 'GET /cheap' })).toBe(b);
    const waiting = upstream.acquire({ costKey: 'GET /cheap' });
    expect(upstream.queueDepth()).toBe(1);
    // The dear call's headers come: a takes the waiting request.
    upstream.recordAttempt(a, { kind: 'response', status: 200, retryAfter: undefined, headersMs: 1000 }, dearCtx);
    upstream.release(a, dearCtx);
    expect(await waiting).toBe(a);
    expect(a.dearInflight).toBe(0);
  });

  it('without known slots, or with queue.priority arrival, a dear call closes nothing', async () => {
    for (const [priority, slots] of [['cost', undefined], ['arrival', 1]] as const) {
      const upstream = new Upstream(configOf({ max_inflight: 3, queue: { priority } }, ['http://a']));
      const a = upstream.servers[0]!;
      a.reportedSlots = slots;
      for (let i = 0; i < 30; i++) upstream.recordAttempt(a, { kind: 'response', status: 200, retryAfter: undefined, headersMs: i < 27 ? 10 : 1000 }, { costKey: i < 27 ? 'c' : 'd' });
      await upstream.acquire({ costKey: 'd' });
      expect(a.available).toBe(true);
      expect(a.dearInflight).toBe(0); // not marked either: /status and the metric show nothing closed
    }
  });

  it('learns nothing from an uncapped server, where no queue forms, nor from failed answers', async () => {
    const upstream = new Upstream(configOf({ max_inflight: 'auto' }, ['http://a']));
    const server = await upstream.acquire({ costKey: 'GET /x' });
    upstream.recordAttempt(server, { kind: 'response', status: 200, retryAfter: undefined, headersMs: 10 }, { costKey: 'GET /x' });
    expect(upstream.stats().queue.costsLearnt).toBe(0);
    const capped = new Upstream(configOf({}, ['http://a']));
    const s = await capped.acquire({ costKey: 'GET /x' });
    capped.recordAttempt(s, { kind: 'response', status: 502, retryAfter: undefined, headersMs: 10 }, { costKey: 'GET /x' });
    expect(capped.stats().queue.costsLearnt).toBe(0);
  });
});

describe('Upstream: passive health, back-pressure, slow start', () => {
  it('ejects a server after `failures` consecutive failures, for a time that doubles, and takes it back after', () => {
    const clock = fakeClock();
    const upstream = new Upstream(configOf({ health: { failures: 2, eject: '1s', max_eject: '3s' } }), { defaultCap: 1, now: clock.fn });
    const a = upstream.servers[0]!;
    expect(fail(upstream, a, clock)).toBeUndefined();
    expect(fail(upstream, a, clock)).toBe(1000);
    expect(a.up).toBe(false);
    clock.now += 1000;
    expect(a.up).toBe(true);
    fail(upstream, a, clock);
    expect(fail(upstream, a, clock)).toBe(2000);
    clock.now += 2000;
    fail(upstream, a, clock);
    expect(fail(upstream, a, clock)).toBe(3000); // capped at max_eject
    clock.now += 3000;
    a.recordSuccess(10);
    fail(upstream, a, clock);
    expect(fail(upstream, a, clock)).toBe(1000); // a success in between starts over
  });

  it('never ejects the last server that is up, however often it fails', () => {
    const clock = fakeClock();
    const upstream = new Upstream(configOf({ health: { failures: 3 } }, ['http://a']), { defaultCap: 1, now: clock.fn });
    const a = upstream.servers[0]!;
    for (let i = 0; i < 10; i++) expect(fail(upstream, a, clock)).toBeUndefined();
    expect(a.up).toBe(true);
    expect(upstream.stats().servers[0]).toMatchObject({ up: true, failures: 10, ejectedUntil: null });
    // Nor the last one left up when the others are out for another reason.
    const two = new Upstream(configOf({ health: { failures: 1 } }), { defaultCap: 1, now: clock.fn });
    const [x, y] = two.servers as [ServerState, ServerState];
    y.healthy = false;
    expect(fail(two, x, clock)).toBeUndefined();
    y.healthy = true;
    expect(fail(two, x, clock)).toBe(1000); // allowed again once another is up
  });

  it('ejects at most max_ejected_percent of the servers at once', () => {
    const clock = fakeClock();
    const urls = ['http://a', 'http://b', 'http://c', 'http://d', 'http://e'];
    const upstream = new Upstream(configOf({ health: { failures: 1 } }, urls), { defaultCap: 1, now: clock.fn });
    const ejected = upstream.servers.map((s) => fail(upstream, s, clock));
    expect(ejected).toEqual([1000, 1000, undefined, undefined, undefined]); // floor(5 × 50 %) = 2
    expect(upstream.servers.filter((s) => s.up)).toHaveLength(3);
    clock.now += 1000;
    expect(fail(upstream, upstream.servers[2]!, clock)).toBe(1000); // the first two are back
    const none = new Upstream(configOf({ health: { failures: 1, max_ejected_percent: 0 } }, urls), { defaultCap: 1, now: clock.fn });
    expect(none.servers.map((s) => fail(none, s, clock))).toEqual(urls.map(() => undefined));
    // Any percentage above 0 allows one, as Envoy does (10 % of 5 would be none).
    const tenth = new Upstream(configOf({ health: { failures: 1, max_ejected_percent: 10 } }, urls), { defaultCap: 1, now: clock.fn });
    expect(tenth.servers.map((s) => fail(tenth, s, clock))).toEqual([1000, undefined, undefined, undefined, undefined]);
    const all = new Upstream(configOf({ health: { failures: 1, max_ejected_percent: 100 } }, urls), { defaultCap: 1, now: clock.fn });
    expect(all.servers.map((s) => fail(all, s, clock))).toEqual([1000, 1000, 1000, 1000, undefined]); // never the last up
  });

  it('records an attempt: 502/504 and errors are failures, 503 + Retry-After back-pressure, anything else success, each told to the events', () => {
    const clock = fakeClock();
    const told: string[] = [];
    const upstream = new Upstream(configOf({ health: { failures: 100 } }), { now: clock.fn, events: {
      onResponse: (s, ms) => told.push(`response ${ms}`), onFailure: (s, reason) => told.push(`failure ${reason}`), onBackpressure: () => told.push('backpressure'),
    } });
    const a = upstream.servers[0]!;
    upstream.recordAttempt(a, { kind: 'response', status: 200, retryAfter: undefined, headersMs: 10 });
    upstream.recordAttempt(a, { kind: 'response', status: 504, retryAfter: undefined, headersMs: 20 });
    upstream.recordAttempt(a, { kind: 'response', status: 503, retryAfter: '1', headersMs: 5 });
    upstream.recordAttempt(a, { kind: 'response', status: 503, retryAfter: undefined, headersMs: 5 }); // no Retry-After: an ordinary answer
    upstream.recordAttempt(a, { kind: 'error', code: 'ECONNREFUSED', sent: false, timedOut: false });
    upstream.recordAttempt(a, { kind: 'error', code: 'ECONNRESET', sent: true, timedOut: false });
    upstream.recordAttempt(a, { kind: 'error', code: 'ETIMEDOUT', sent: true, timedOut: true });
    expect(told).toEqual(['response 10', 'response 20', 'failure status', 'response 5', 'backpressure', 'response 5', 'failure connect', 'failure reset', 'failure timeout']);
    expect(a.consecutiveFailures).toBe(3);
    expect(a.lastFailure).toBe('ETIMEDOUT');
  });

  it('treats a 503 + Retry-After as back-pressure: a short skip, not an ejection', () => {
    const clock = fakeClock();
    const upstream = new Upstream(configOf(), { defaultCap: 1, now: clock.fn });
    const a = upstream.servers[0]!;
    a.recordBackpressure(1);
    expect(a.up).toBe(false);
    expect(a.consecutiveFailures).toBe(0);
    clock.now += 50;
    expect(a.up).toBe(true);
    a.recordBackpressure(1);
    clock.now += 50;
    expect(a.up).toBe(false); // the second in a row lasts longer
    clock.now += 50;
    expect(a.up).toBe(true);
  });

  it('starts a slow start when an ejection ends', () => {
    const clock = fakeClock();
    const upstream = new Upstream(configOf({ max_inflight: 8, health: { failures: 1, eject: '1s', slow_start: '4s' } }), { defaultCap: 1, now: clock.fn });
    const a = upstream.servers[0]!;
    fail(upstream, a, clock);
    clock.now += 1000;
    expect(a.up).toBe(true);
    expect(a.cap).toBe(1);
    clock.now += 2000;
    expect(a.cap).toBe(4);
    clock.now += 2000;
    expect(a.cap).toBe(8);
  });

  it('ramps a returning server\'s cap and weight up over slow_start', () => {
    const clock = fakeClock();
    const upstream = new Upstream(configOf({ max_inflight: 8, health: { slow_start: '4s' } }), { defaultCap: 1, now: clock.fn });
    const a = upstream.servers[0]!;
    expect(a.cap).toBe(8); // no slow start at first start
    a.markDown();
    a.markUp();
    expect(a.cap).toBe(1);
    clock.now += 2000;
    expect(a.cap).toBe(4);
    expect(a.weight).toBeCloseTo(0.5);
    clock.now += 2000;
    expect(a.cap).toBe(8);
    expect(a.weight).toBe(1);
  });
});

describe('Upstream: local servers from the master', () => {
  const local = (overrides: Overrides = {}): UpstreamConfig => ({
    ...configOf(overrides),
    servers: [{ url: 'http://a', weight: 1, local: true }, { url: 'http://r', weight: 1, local: false }],
  });

  it('under a master, takes local servers only from its announcements, and only the ready ones', async () => {
    const upstream = new Upstream(local(), { supervised: true });
    expect(upstream.servers.map((s) => s.url)).toEqual(['http://r']);
    upstream.setLocalServers([{ url: 'http://a', state: 'ready' }, { url: 'http://b', state: 'starting' }]);
    expect(upstream.stats().servers.map((s) => [s.url, s.up])).toEqual([['http://r', true], ['http://a', true], ['http://b', false]]);
  });

  it('keeps a server\'s in-flight count across announcements, drops servers no longer listed, and serves the queue when one gets ready', async () => {
    const upstream = new Upstream(local({ queue: { size: 5, timeout: '1s' } }), { supervised: true });
    upstream.setLocalServers([{ url: 'http://a', state: 'ready' }]);
    const held = [await upstream.acquire({}), await upstream.acquire({})]; // r and a, both at their cap of 1
    upstream.setLocalServers([{ url: 'http://a', state: 'draining' }, { url: 'http://c', state: 'starting' }]);
    expect(upstream.stats().servers.find((s) => s.url === 'http://a')).toMatchObject({ inflight: 1, up: false });
    const queued = upstream.acquire({});
    expect(upstream.queueDepth()).toBe(1);
    upstream.setLocalServers([{ url: 'http://c', state: 'ready' }]);
    expect((await queued).url).toBe('http://c');
    expect(upstream.servers.map((s) => s.url)).toEqual(['http://r', 'http://c']);
    for (const server of held) upstream.release(server); // a release on a dropped server is harmless
    expect(upstream.stats().servers.map((s) => s.inflight)).toEqual([0, 1]);
  });

  it('without a master, treats the configured local servers as up', () => {
    expect(new Upstream(local()).stats().servers.map((s) => s.up)).toEqual([true, true]);
  });
});

describe('Upstream: give-back (issue 22)', () => {
  it('a server that gave a request back takes nothing new until one of its calls ends, whatever its cap', async () => {
    const upstream = new Upstream(configOf({ max_inflight: 4 }, ['http://a', 'http://b']));
    const [a, b] = upstream.servers as [ServerState, ServerState];
    // a: one dear call and one queued behind it; b: busy with three.
    const dear = await upstream.acquire({}, undefined, new Set([b]));
    const queued = await upstream.acquire({}, undefined, new Set([b]));
    for (let i = 0; i < 3; i++) await upstream.acquire({}, undefined, new Set([a]));
    expect([dear.url, queued.url]).toEqual(['http://a', 'http://a']);
    upstream.giveBack(a);
    expect(a).toMatchObject({ inflight: 1, stalled: true, available: false });
    // Sent again: a has room under its cap (1 of 4), yet the request goes to b, the only server that can start it.
    expect((await upstream.acquire({}, undefined, new Set(), true)).url).toBe('http://b');
    // The dear call ends: a takes requests again.
    upstream.recordAttempt(a, { kind: 'response', status: 200, retryAfter: undefined, headersMs: 500 });
    upstream.release(a);
    expect(a).toMatchObject({ inflight: 0, stalled: false, available: true });
  });

  it('a stall whose overdue call this proxy did not send ends after one usual call, twice as long when handed back again, and a queued request then goes there', async () => {
    const clock = fakeClock();
    const upstream = new Upstream(configOf({ max_inflight: 4, queue: { size: 2, timeout: '10s' } }, ['http://a']), { now: clock.fn });
    const a = upstream.servers[0]!;
    a.recordSuccess(40); // a usual call there: 40 ms
    // Another proxy's (or client's) dear call holds the slot: the request is handed back and nothing of this proxy's stays there.
    await upstream.acquire({});
    upstream.giveBack(a);
    expect(a).toMatchObject({ inflight: 0, stalled: true, available: false });
    clock.now += 39;
    expect(a.available).toBe(false);
    clock.now += 1;
    expect(a.available).toBe(true);
    // Handed back again at once: the stall doubles, and a request that comes meanwhile waits for its end.
    await upstream.acquire({});
    upstream.giveBack(a);
    const waiting = upstream.acquire({});
    clock.now += 79;
    await new Promise((r) => setTimeout(r, 50)); // the queue's re-check runs every 20 ms
    expect(upstream.queueDepth()).toBe(1);
    clock.now += 1;
    expect((await waiting).url).toBe('http://a');
    // One of this proxy's calls there ends: the next stall is one usual call again.
    upstream.recordAttempt(a, { kind: 'response', status: 200, retryAfter: undefined, headersMs: 40 });
    upstream.release(a);
    await upstream.acquire({});
    upstream.giveBack(a);
    clock.now += 40;
    expect(a.stalled).toBe(false);
  });

  it('behind a dear call of this proxy\'s own, a stall lasts until that call ends, not one usual call', async () => {
    const clock = fakeClock();
    const upstream = new Upstream(configOf({ max_inflight: 4, queue: { size: 2, timeout: '10s' } }, ['http://a', 'http://b']), { now: clock.fn });
    const [a, b] = upstream.servers as [ServerState, ServerState];
    a.recordSuccess(40); // a usual call there: 40 ms
    const dear = await upstream.acquire({}, undefined, new Set([b]));
    await upstream.acquire({}, undefined, new Set([b])); // queued behind it, then handed back
    upstream.giveBack(a);
    expect(a).toMatchObject({ inflight: 1, stalled: true });
    // Far past one usual call (the old rule's end) and past the longest timed stall, the dear call still runs: a takes nothing.
    clock.now += 5000;
    expect(a.available).toBe(false);
    expect((await upstream.acquire({})).url).toBe('http://b');
    upstream.recordAttempt(dear, { kind: 'response', status: 200, retryAfter: undefined, headersMs: 5000 });
    upstream.release(dear);
    expect(a).toMatchObject({ inflight: 0, stalled: false, available: true });
  });

  it('a failed call ends the stall too', async () => {
    const upstream = new Upstream(configOf({ max_inflight: 4, health: { failures: 100 } }, ['http://a']));
    const a = upstream.servers[0]!;
    const dear = await upstream.acquire({});
    await upstream.acquire({});
    upstream.giveBack(a);
    expect(a.available).toBe(false);
    upstream.recordAttempt(dear, { kind: 'error', code: 'ECONNRESET', sent: true, timedOut: false });
    expect(a.available).toBe(true);
  });
});
