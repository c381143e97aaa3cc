/**
 * Load balancing through a real `portico proxy` in front of real node:http
 * origins: caps, the central queue, shedding, abandoned requests, timeouts,
 * health checks, back-pressure, the retry budget, and every policy.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { deadUrl, getJson, origin, startProxy, waitUntil } from './helpers.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
});

/** An origin that answers after `ms`, counting the requests it actually received (health checks apart). */
async function slowOrigin(name: string, ms: number) {
  let received = 0;
  const o = await origin(name, (req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/readyz') return void res.end('{"slots":1}');
    received++;
    setTimeout(() => res.end(JSON.stringify({ name })), ms);
  });
  cleanups.push(() => new Promise((r) => { o.server.closeAllConnections(); o.server.close(r); }));
  return { ...o, received: () => received };
}

async function proxyFor(servers: string[], upstreamYaml: string) {
  const proxy = await startProxy(servers, upstreamYaml);
  cleanups.push(() => proxy.proc.stop());
  return proxy;
}

interface Status {
  upstreams: Array<{ queue: { depth: number }; shed: Record<string, number>; servers: Array<{ url: string; up: boolean; healthy: boolean; inflight: number; cap: number }> }>;
}
const statusOf = async (admin: string) => (await getJson(`${admin}/status`)).body as Status;

describe('per-server cap and central queue', () => {
  it('holds requests beyond the cap in the queue, serves them as slots free, and sheds past the queue at once with 503 + Retry-After', async () => {
    const o = await slowOrigin('o', 1000);
    const { http, admin } = await proxyFor([o.url], 'max_inflight: 1\n    queue: { size: 1, timeout: "5s" }\n    health: { path: "" }');
    let firstDone = false;
    const first = getJson(`${http}/1`).finally(() => { firstDone = true; });
    await waitUntil(async () => (await statusOf(admin)).upstreams[0]!.servers[0]!.inflight === 1, 2000, 'first in flight');
    const second = getJson(`${http}/2`);
    await waitUntil(async () => (await statusOf(admin)).upstreams[0]!.queue.depth === 1, 2000, 'second queued');
    const third = await getJson(`${http}/3`);
    expect(firstDone).toBe(false); // shed at once, not after waiting for the call in flight
    expect(third.status).toBe(503);
    expect(third.headers.get('retry-after')).toBe('1');
    expect(third.headers.get('content-type')).toBe('application/problem+json');
    expect(third.body.detail).toMatch(/queue \(1\) is full/);
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
    expect(o.received()).toBe(2);
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    expect(metrics).toMatch(/^portico_upstream_shed_total\{upstream="app",reason="queue_full"\} 1$/m);
    expect(metrics).toMatch(/^portico_upstream_queue_wait_seconds_count\{upstream="app"\} 1$/m);
  });

  it('sheds a request that waited past the queue timeout, without ever sending it', async () => {
    const o = await slowOrigin('o', 1500);
    const { http } = await proxyFor([o.url], 'max_inflight: 1\n    queue: { size: 5, timeout: "100ms" }\n    health: { path: "" }');
    let firstDone = false;
    const first = getJson(`${http}/1`).finally(() => { firstDone = true; });
    await new Promise((r) => setTimeout(r, 50));
    const second = await getJson(`${http}/2`);
    expect(second.status).toBe(503);
    expect(second.body.detail).toMatch(/within the queue timeout \(100 ms\)/);
    expect(firstDone).toBe(false); // shed at its timeout, long before the call it waited behind ended
    expect((await first).status).toBe(200);
    expect(o.received()).toBe(1);
  });

  it('never sends a queued request whose client has gone, and its slot accounting returns to zero', async () => {
    const o = await slowOrigin('o', 300);
    const { http, admin } = await proxyFor([o.url], 'max_inflight: 1\n    queue: { size: 5, timeout: "5s" }\n    health: { path: "" }');
    const first = getJson(`${http}/1`);
    await new Promise((r) => setTimeout(r, 50));
    const gone = new AbortController();
    const abandoned = fetch(`${http}/2`, { signal: gone.signal }).catch(() => 'aborted');
    await waitUntil(async () => (await statusOf(admin)).upstreams[0]!.queue.depth === 1, 2000, 'queued');
    gone.abort();
    expect(await abandoned).toBe('aborted');
    await waitUntil(async () => (await statusOf(admin)).upstreams[0]!.queue.depth === 0, 2000, 'queue emptied');
    expect((await first).status).toBe(200);
    await new Promise((r) => setTimeout(r, 100));
    expect(o.received()).toBe(1);
    const s = await statusOf(admin);
    expect(s.upstreams[0]!.servers[0]!.inflight).toBe(0);
    expect(s.upstreams[0]!.shed.client_gone).toBe(1);
  });

  /**
   * An origin that holds every request until the test lets it go, recording the
   * order it received them in; the warm-up request (/warm) is held `warmMs`, so
   * the proxy learns a latency for the server.
   */
  async function gatedOrigin(warmMs: number) {
    const order: string[] = [];
    const held: Array<() => void> = [];
    let gateOpen = false;
    const o = await origin('gated', (req: IncomingMessage, res: ServerResponse) => {
      if (req.url === '/warm') return void setTimeout(() => res.end('warm'), warmMs);
      order.push(req.url!);
      if (gateOpen) res.end(req.url);
      else held.push(() => res.end(req.url));
    });
    cleanups.push(() => new Promise((r) => { o.server.closeAllConnections(); o.server.close(r); }));
    return {
      url: o.url, order,
      releaseOne: () => held.shift()?.(),
      /** Answers all held requests, and every later one at once. */
      open: () => { gateOpen = true; for (const end of held.splice(0)) end(); },
    };
  }

  /** Warms the proxy's latency for the server (~1 s), then queues /q/1../q/8 behind /q/0 and frees /q/0: which one is sent next? */
  async function nextAfterFlood(order: 'adaptive' | 'fifo') {
    const o = await gatedOrigin(1000);
    // One request at a time, 1 s each, 5 s timeout: five can be served in time; eight wait.
    const { http, admin } = await proxyFor([o.url], `max_inflight: 1\n    queue: { size: 20, timeout: "5s", order: ${order} }\n    health: { path: "" }`);
    expect((await getJson(`${http}/warm`)).status).toBe(200);
    const answers = [getJson(`${http}/q/0`)];
    await waitUntil(() => o.order.length === 1, 2000, '/q/0 at the origin');
    for (let i = 1; i <= 8; i++) {
      answers.push(getJson(`${http}/q/${i}`));
      await waitUntil(async () => (await statusOf(admin)).upstreams[0]!.queue.depth === i, 2000, `/q/${i} queued`);
    }
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    o.releaseOne();
    await waitUntil(() => o.order.length === 2, 2000, 'the next request at the origin');
    const next = o.order[1];
    o.open();
    const statuses = (await Promise.all(answers)).map((a) => a.status);
    expect(statuses).toEqual(Array(9).fill(200));
    await waitUntil(async () => (await statusOf(admin)).upstreams[0]!.servers[0]!.inflight === 0, 2000, 'slot back');
    return { next, metrics };
  }

  it('under overload (more waiting than can be served within the timeout) sends the newest queued request first', async () => {
    const { next, metrics } = await nextAfterFlood('adaptive');
    expect(next).toBe('/q/8');
    expect(metrics).toMatch(/^portico_upstream_queue_newest_first\{upstream="app"\} 1$/m);
  });

  it('with queue.order fifo, sends the oldest queued request first under the same overload', async () => {
    const { next, metrics } = await nextAfterFlood('fifo');
    expect(next).toBe('/q/1');
    expect(metrics).toMatch(/^portico_upstream_queue_newest_first\{upstream="app"\} 0$/m);
  });

  it('sets the cap from /readyz with max_inflight: auto: the slots, plus what the server can queue for two proxies, up to two', async () => {
    let body = '{"status":"ready","slots":3,"queueSize":0}';
    const o = await origin('o', (req, res) => res.end(req.url === '/readyz' ? body : 'ok'));
    cleanups.push(() => new Promise((r) => o.server.close(r)));
    const { admin } = await proxyFor([o.url], 'max_inflight: auto\n    health: { path: /readyz, interval: "50ms" }');
    await waitUntil(async () => (await statusOf(admin)).upstreams[0]!.servers[0]!.cap === 3, 3000, 'cap of 3');
    body = '{"status":"ready","slots":2,"queueSize":4}';
    await waitUntil(async () => (await statusOf(admin)).upstreams[0]!.servers[0]!.cap === 3, 3000, 'cap of 2 + 1');
    body = '{"status":"ready","slots":1,"queueSize":4}';
    await waitUntil(async () => (await statusOf(admin)).upstreams[0]!.servers[0]!.cap === 2, 3000, 'cap of 1 + 1');
    body = '{"status":"ready","slots":1,"queueSize":6}';
    await waitUntil(async () => (await statusOf(admin)).upstreams[0]!.servers[0]!.cap === 3, 3000, 'cap of 1 + 2');
  });
});

describe('timeouts and failures', () => {
  it('answers 504 when a server takes longer than the response timeout, and does not retry it', async () => {
    const slow = await slowOrigin('slow', 1000);
    const other = await slowOrigin('other', 0);
    const { http } = await proxyFor([slow.url, other.url], 'policy: round-robin\n    timeouts: { response: "150ms" }\n    health: { path: "" }');
    const res = await getJson(`${http}/`);
    expect(res.status).toBe(504);
    expect(res.body.detail).toMatch(/within 150 ms/);
    expect(other.received()).toBe(0);
  });

  it('passes a server\'s own 503 + Retry-After through as back-pressure: no ejection, other servers take the next requests', async () => {
    const busy = await origin('busy', (req, res) => {
      if (req.url === '/readyz') return void res.end('{}');
      res.writeHead(503, { 'retry-after': '1' }).end('busy');
    });
    const ok = await slowOrigin('ok', 0);
    cleanups.push(() => new Promise((r) => busy.server.close(r)));
    const { http, admin } = await proxyFor([busy.url, ok.url], 'policy: round-robin\n    max_inflight: 4\n    health: { path: "", failures: 1 }');
    const first = await getJson(`${http}/`);
    expect(first.status).toBe(503);
    expect(first.body).toBe('busy'); // the server's own answer, passed through
    // Round-robin alone would give the busy server every other request. Skipped after each 503
    // for longer each time in a row (50 ms, 100 ms, ... up to its Retry-After), it gets few of
    // the next 20, whatever the machine's speed; and with failures: 1 it is never ejected.
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await getJson(`${http}/`)).status);
    expect(statuses.filter((s) => s === 503).length).toBeLessThan(10); // fewer than its round-robin share
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    expect(metrics).toMatch(/^portico_upstream_backpressure_total\{upstream="app",server="[^"]+"\} ([1-9]|10)$/m);
    expect(metrics).not.toMatch(/^portico_upstream_ejections_total/m);
  });

  it('stops retrying when the retry budget is spent', async () => {
    const ok = await slowOrigin('ok', 0);
    const { http, admin } = await proxyFor([await deadUrl(), ok.url], 'policy: round-robin\n    retries: { budget: 0, min_per_second: 0 }\n    health: { path: "", failures: 100 }');
    const res = await getJson(`${http}/`);
    expect(res.status).toBe(502);
    expect(res.body.detail).toMatch(/retry budget of upstream "app" is spent/);
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    expect(metrics).toMatch(/^portico_upstream_retry_budget_exhausted_total\{upstream="app"\} 1$/m);
  });
});

describe('misbehaving servers leave nothing behind', () => {
  it('answers 502 for garbage, resets and early closes, and every in-flight count and queue returns to zero', async () => {
    const garbage = await origin('garbage', (req) => { req.socket.end('this is not HTTP\r\n\r\n'); });
    const reset = await origin('reset', (req) => { req.socket.destroy(); });
    const hangUp = await origin('hang-up', (_req, res) => {
      res.writeHead(200, { 'content-length': '10' });
      res.write('12');
      setTimeout(() => res.socket?.destroy(), 30);
    });
    for (const o of [garbage, reset, hangUp]) cleanups.push(() => new Promise((r) => o.server.close(r)));
    const { http, admin } = await proxyFor([garbage.url, reset.url, hangUp.url], 'policy: round-robin\n    max_inflight: 2\n    retries: { attempts: 0 }\n    health: { path: "", failures: 1000 }');
    const results = await Promise.all(Array.from({ length: 12 }, async () => {
      try {
        const res = await fetch(`${http}/`, { method: 'POST', body: 'x', headers: { 'content-type': 'text/plain' } });
        await res.text();
        return res.status;
      } catch {
        return 'cut';
      }
    }));
    expect(results.every((r) => r === 502 || r === 503 || r === 'cut')).toBe(true);
    expect(results).toContain(502);
    expect(results).toContain('cut'); // the half-sent body
    await waitUntil(async () => {
      const u = (await statusOf(admin)).upstreams[0]!;
      return u.queue.depth === 0 && u.servers.every((s) => s.inflight === 0);
    }, 3000, 'in-flight counts and queue back to zero');
  });
});

describe('ejection, recovery and slow start', () => {
  it('ejects a server that refuses connections, takes it back once it listens again, and ramps its cap up', async () => {
    const steady = await slowOrigin('steady', 0);
    const port = Number(new URL(await deadUrl()).port);
    const { http, admin } = await proxyFor([`http://127.0.0.1:${port}`, steady.url],
      'policy: round-robin\n    max_inflight: 4\n    health: { path: "", failures: 1, eject: "300ms", slow_start: "2s" }');
    const first = await getJson(`${http}/`);
    expect(first.status).toBe(200); // refused on the dead one, retried on the steady one
    const serverOf = async () => (await statusOf(admin)).upstreams[0]!.servers[0]!;
    expect((await serverOf()).up).toBe(false);

    const revived = createServer((_req, res) => res.end(JSON.stringify({ name: 'revived' })));
    await new Promise<void>((r) => revived.listen(port, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => { revived.closeAllConnections(); revived.close(r); }));
    await waitUntil(async () => (await serverOf()).up, 3000, 'the ejection to end');
    // Back in rotation, with a cap that starts low and grows to max_inflight over slow_start.
    const caps = [(await serverOf()).cap];
    const names = new Set<string>();
    for (let i = 0; i < 4; i++) names.add((await getJson(`${http}/`)).body.name);
    expect(names).toContain('revived');
    await waitUntil(async () => (await serverOf()).cap === 4, 4000, 'the cap to reach 4');
    caps.push(4);
    expect(caps[0]).toBeLessThan(4);
  });
});

describe('active health checks', () => {
  it('takes a server out after `fall` failed checks, sends nothing to it meanwhile, and brings it back after `rise`', async () => {
    let ready = true;
    const flaky = await origin('flaky', (req, res) => {
      if (req.url === '/readyz') return void res.writeHead(ready ? 200 : 503).end('{}');
      res.end(JSON.stringify({ name: 'flaky' }));
    });
    const steady = await slowOrigin('steady', 0);
    cleanups.push(() => new Promise((r) => flaky.server.close(r)));
    const { http, admin } = await proxyFor([flaky.url, steady.url], 'policy: round-robin\n    health: { path: /readyz, interval: "50ms", rise: 2, fall: 2 }');
    const serverOf = async () => (await statusOf(admin)).upstreams[0]!.servers[0]!;
    ready = false;
    await waitUntil(async () => !(await serverOf()).healthy, 3000, 'flaky marked down');
    const names = await Promise.all(Array.from({ length: 6 }, async () => (await getJson(`${http}/`)).body.name));
    expect(new Set(names)).toEqual(new Set(['steady']));
    ready = true;
    await waitUntil(async () => (await serverOf()).healthy, 3000, 'flaky back up');
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    expect(metrics).toMatch(/^portico_upstream_health_checks_total\{upstream="app",server="[^"]+",result="failure"\} [1-9]/m);
  });
});

describe('every policy, through the proxy', () => {
  it.each(['least-outstanding', 'round-robin', 'weighted-round-robin', 'p2c', 'hash'])('%s spreads load over both servers and answers every request', async (policy) => {
    const a = await slowOrigin('a', 5);
    const b = await slowOrigin('b', 5);
    const { http } = await proxyFor([a.url, b.url], `policy: ${policy}\n    max_inflight: 4\n    hash: { key: "header:x-user" }\n    health: { path: "" }`);
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => getJson(`${http}/`, { headers: { 'x-user': `user-${i}` } })));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(a.received()).toBeGreaterThan(0);
    expect(b.received()).toBeGreaterThan(0);
    expect(a.received() + b.received()).toBe(40);
  });

  it('hash keeps a key on one server', async () => {
    const a = await slowOrigin('a', 0);
    const b = await slowOrigin('b', 0);
    const { http } = await proxyFor([a.url, b.url], 'policy: hash\n    max_inflight: 4\n    hash: { key: "cookie:session" }\n    health: { path: "" }');
    for (const session of ['s1', 's2', 's3', 's4']) {
      const names = new Set<string>();
      for (let i = 0; i < 5; i++) names.add((await getJson(`${http}/`, { headers: { cookie: `theme=dark; session=${session}` } })).body.name);
      expect(names.size).toBe(1);
    }
  });
});
