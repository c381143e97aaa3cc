/**
 * The proxy alone (`portico proxy`, no pool) in front of plain node:http servers
 * that misbehave on purpose: refuse, reset, hang up mid-body.
 */
import { get, type IncomingMessage, type Server } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deadUrl, getJson, origin, QUIET, startProxy, waitUntil } from './helpers.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
});
function closeLater(server: Server) {
  cleanups.push(() => new Promise((r) => { server.closeAllConnections(); server.close(r); }));
}

describe('proxy forwarding', () => {
  let a: Awaited<ReturnType<typeof origin>>;
  let b: Awaited<ReturnType<typeof origin>>;
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  beforeAll(async () => {
    a = await origin('a');
    b = await origin('b');
    proxy = await startProxy([a.url, b.url]);
  });
  afterAll(async () => {
    await proxy.proc.stop();
    for (const o of [a, b]) o.server.close();
  });

  it('spreads requests round-robin and passes method, path, query and body through', async () => {
    const names = [];
    for (let i = 0; i < 4; i++) {
      const res = await getJson(`${proxy.http}/x/y?z=${i}`, { method: 'POST', body: `body-${i}`, headers: { 'content-type': 'text/plain' } });
      expect(res.body).toMatchObject({ method: 'POST', url: `/x/y?z=${i}`, body: `body-${i}` });
      names.push(res.body.name);
    }
    expect(names.sort()).toEqual(['a', 'a', 'b', 'b']);
  });

  it('passes /_portico/status to the upstream like any path when public_status is turned off', async () => {
    const o = await origin('o');
    closeLater(o.server);
    const { proc, http } = await startProxy([o.url], QUIET, 'public_status: ""');
    cleanups.push(() => proc.stop());
    expect((await getJson(`${http}/_portico/status`)).body).toMatchObject({ name: 'o', url: '/_portico/status' });
  });

  it('gives every request an id, sends it upstream and returns it to the client', async () => {
    const res = await getJson(`${proxy.http}/id`);
    expect(res.headers.get('x-request-id')).toBe(res.body.requestId);
  });

  it('reuses upstream connections (keep-alive)', async () => {
    const sockets = new Set<unknown>();
    a.server.on('request', (req: IncomingMessage) => sockets.add(req.socket));
    for (let i = 0; i < 10; i++) await getJson(`${proxy.http}/ka`);
    expect(sockets.size).toBe(1);
  });

  it('writes one JSON access-log line per request', async () => {
    await getJson(`${proxy.http}/logged?q=1`);
    const line = await proxy.proc.waitForLog((l) => l.msg === 'request' && l.path === '/logged?q=1');
    expect(line).toMatchObject({ method: 'GET', status: 200, route: 'root', upstream: 'app', id: expect.any(String), duration: expect.any(Number), client: '127.0.0.1' });
    expect(line.bytes).toBeGreaterThan(100); // headers and body as sent
  });
});

describe('forwarded headers and request ids', () => {
  async function echoHeaders() {
    const o = await origin('echo', (req, res) => res.end(JSON.stringify(req.headers)));
    closeLater(o.server);
    return o;
  }
  const spoofed = { 'x-forwarded-for': '6.6.6.6', 'x-forwarded-proto': 'https', forwarded: 'for=6.6.6.6', 'x-real-ip': '6.6.6.6', 'x-request-id': 'client-chosen' };

  it('replaces what an untrusted client claims, and tells the upstream who connected', async () => {
    const o = await echoHeaders();
    const { proc, http } = await startProxy([o.url]);
    cleanups.push(() => proc.stop());
    // node:http, because fetch refuses to send a Connection header.
    const res = await new Promise<{ body: Record<string, string>; headers: { get(name: string): string | undefined } }>((resolve, reject) => {
      get(`${http}/`, { headers: { ...spoofed, connection: 'keep-alive, x-drop-me', 'x-drop-me': '1' } }, (r) => {
        let text = '';
        r.on('data', (c: Buffer) => { text += c.toString(); });
        r.on('end', () => resolve({ body: JSON.parse(text) as Record<string, string>, headers: { get: (n) => r.headers[n] as string | undefined } }));
      }).on('error', reject);
    });
    expect(res.body).toMatchObject({
      'x-forwarded-for': '127.0.0.1', 'x-real-ip': '127.0.0.1', 'x-forwarded-proto': 'http',
      forwarded: expect.stringMatching(/^for=127\.0\.0\.1;host="127\.0\.0\.1:\d+";proto=http$/), // ":" is not a token character: quoted
    });
    expect(res.body['x-request-id']).not.toBe('client-chosen');
    expect(res.body['x-request-id']).toBe(res.headers.get('x-request-id'));
    expect(res.body['x-drop-me']).toBeUndefined(); // named in Connection: hop-by-hop
  });

  it('keeps and appends to a trusted proxy\'s chain, and keeps its request id', async () => {
    const o = await echoHeaders();
    const { proc, http } = await startProxy([o.url], QUIET, 'trusted_proxies: [ 127.0.0.0/8 ]');
    cleanups.push(() => proc.stop());
    const res = await getJson(`${http}/`, { headers: { ...spoofed, 'x-forwarded-for': '198.51.100.9' } });
    expect(res.body).toMatchObject({
      'x-forwarded-for': '198.51.100.9, 127.0.0.1', 'x-real-ip': '198.51.100.9', 'x-forwarded-proto': 'https',
      forwarded: expect.stringMatching(/^for=6\.6\.6\.6, for=127\.0\.0\.1;/), 'x-request-id': 'client-chosen',
    });
    expect(res.headers.get('x-request-id')).toBe('client-chosen');
    const line = await proc.waitForLog((l) => l.msg === 'request' && l.id === 'client-chosen');
    expect(line.client).toBe('198.51.100.9');
  });
});

describe('proxy faults', () => {
  it('retries a refused connection on another server, for GET and POST alike', async () => {
    const good = await origin('good');
    closeLater(good.server);
    const { proc, http } = await startProxy([await deadUrl(), good.url]);
    cleanups.push(() => proc.stop());
    for (let i = 0; i < 4; i++) {
      const get = await getJson(`${http}/g`);
      expect(get.status).toBe(200);
      const post = await getJson(`${http}/p`, { method: 'POST', body: '{"val":1}', headers: { 'content-type': 'application/json' } });
      expect(post.body).toMatchObject({ name: 'good', body: '{"val":1}' });
    }
  });

  it('answers 502 problem+json when every server fails, and never ejects the last server up', async () => {
    const { proc, http, admin } = await startProxy([await deadUrl(), await deadUrl()], 'policy: round-robin\n    health: { path: "", failures: 1 }');
    cleanups.push(() => proc.stop());
    const first = await getJson(`${http}/`);
    expect(first.status).toBe(502);
    expect(first.headers.get('content-type')).toBe('application/problem+json');
    expect(first.body.detail).toMatch(/every server of upstream "app" tried failed/);
    // One of the two is ejected (half, the default max_ejected_percent); the other is the last up and stays in.
    const next = await getJson(`${http}/`);
    expect(next.status).toBe(502);
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    expect(metrics).toMatch(/^portico_upstream_errors_total\{upstream="app",server="[^"]+",reason="connect"\} [12]$/m);
    expect(metrics.match(/^portico_upstream_ejections_total\{upstream="app",server="[^"]+"\} 1$/gm)).toHaveLength(1);
    expect(metrics.match(/^portico_upstream_server_up\{upstream="app",server="[^"]+"\} 1$/gm)).toHaveLength(1);
  });

  it('answers 503 + Retry-After when active checks find every server down, saying which check failed and why', async () => {
    const missing = await origin('missing', (req, res) => res.writeHead(req.url === '/healthz' ? 404 : 200).end('{}'));
    closeLater(missing.server);
    const dead = await deadUrl();
    const { proc, http, admin } = await startProxy([missing.url, dead], 'health: { path: /healthz, interval: 50ms, fall: 1 }');
    cleanups.push(() => proc.stop());
    await waitUntil(async () => (await getJson(`${http}/`)).status === 503, 3000, 'both servers marked down');
    const shed = await getJson(`${http}/`);
    expect(shed.status).toBe(503);
    expect(shed.headers.get('retry-after')).toBe('1');
    // The client learns why, not where: servers by their place in the upstream; /status has the addresses.
    expect(shed.body.detail).toContain('no server of upstream "app" is up: server 1 failed its health check GET /healthz: 404; server 2 failed its health check GET /healthz: connection refused');
    expect(shed.body.detail).not.toContain('127.0.0.1');
    const status = await getJson(`${admin}/status`);
    expect(status.body.upstreams[0].servers.map((s: { down: string }) => s.down)).toEqual([
      `server ${missing.url} failed its health check GET /healthz: 404`,
      `server ${dead} failed its health check GET /healthz: connection refused`,
    ]);
    // Logged once per change of state, not once per check.
    await new Promise((r) => setTimeout(r, 300));
    expect(proc.lines.filter((l) => l.msg === `server failed its health checks: GET /healthz: 404`)).toHaveLength(1);
  });

  it('does not retry a POST whose connection was reset after it was sent', async () => {
    const resetter = await origin('resetter', (req) => req.socket.destroy());
    const good = await origin('good');
    closeLater(resetter.server);
    closeLater(good.server);
    const { proc, http } = await startProxy([resetter.url, good.url]);
    cleanups.push(() => proc.stop());
    const post = await getJson(`${http}/`, { method: 'POST', body: 'x', headers: { 'content-type': 'text/plain' } });
    expect(post.status).toBe(502);
    expect(good.hits()).toBe(0);
    // A GET is idempotent: the reset one is retried on the good server.
    const get = await getJson(`${http}/`);
    expect(get.status).toBe(200);
    expect(get.body.name).toBe('good');
  });

  it('streams a large body to a slow client without holding it: the server waits while the client does not read', async () => {
    const total = 64 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 'x');
    let written = 0;
    const big = await origin('big', (_req, res) => {
      res.writeHead(200, { 'content-length': String(total) });
      const more = () => {
        while (written < total) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', more);
        }
        res.end();
      };
      more();
    });
    closeLater(big.server);
    const { proc, http } = await startProxy([big.url]);
    cleanups.push(() => proc.stop());
    const res = await new Promise<IncomingMessage>((resolve, reject) => get(`${http}/`, resolve).on('error', reject));
    res.pause();
    // Wait until the server has got no further for 500 ms (every buffer on the way is full), then check it is not done.
    let last = -1;
    let lastChange = Date.now();
    await waitUntil(() => {
      if (written !== last) [last, lastChange] = [written, Date.now()];
      return Date.now() - lastChange > 500;
    }, 20_000, 'the server to stop getting further');
    expect(written).toBeLessThan(total);
    let received = 0;
    res.on('data', (c: Buffer) => { received += c.length; });
    res.resume();
    await new Promise((r) => res.once('end', r));
    expect(received).toBe(total);
  });

  it('stops the server\'s body when the client leaves mid-body', async () => {
    let serverSawClose = false;
    const endless = await origin('endless', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const timer = setInterval(() => res.write('tick\n'), 10);
      res.once('close', () => { clearInterval(timer); serverSawClose = true; });
    });
    closeLater(endless.server);
    const { proc, http } = await startProxy([endless.url]);
    cleanups.push(() => proc.stop());
    const res = await new Promise<IncomingMessage>((resolve, reject) => get(`${http}/`, resolve).on('error', reject));
    await new Promise((r) => res.once('data', r));
    res.destroy();
    await waitUntil(() => serverSawClose, 5000, 'the server to see its response closed');
  });

  it('cuts the client off when a server dies mid-body, instead of leaving it waiting', async () => {
    const halfway = await origin('halfway', (_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('only part');
      setTimeout(() => res.socket?.destroy(), 50);
    });
    closeLater(halfway.server);
    const { proc, http } = await startProxy([halfway.url]);
    cleanups.push(() => proc.stop());
    const res = await fetch(`${http}/`);
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
  });
});
