/**
 * Hostile and malformed requests over a raw socket: ambiguous framing that
 * could smuggle a request past the proxy (RFC 9112 §6.3, §11.2), header and
 * body limits, slow clients. The origin records what reaches it: nothing a
 * rejected request carried may arrive there.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { origin, type PorticoProcess, runProxy, writeConfig } from './helpers.js';

let proc: PorticoProcess;
let port: number;
let admin: string;
let seen: string[] = [];
let closeOrigin: () => void;

beforeAll(async () => {
  const o = await origin('o', (req, res, body) => {
    seen.push(`${req.method} ${req.url} ${body}`);
    res.end('ok');
  });
  closeOrigin = () => o.server.close();
  ({ proc, port, admin } = await runProxy(writeConfig(`
listen: { http: "127.0.0.1:0", admin: "127.0.0.1:0" }
pool: { processes: 0 }
client: { header_timeout: 500ms, request_timeout: 1s, max_header_bytes: 4KiB, max_headers: 20 }
upstreams: { app: { servers: [ "${o.url}" ], health: { path: "" } } }
routes:
  - { path: /small/, upstream: app, limits: { max_body: 100B } }
  - { path: /, upstream: app }
`)));
});
afterAll(async () => {
  await proc.stop();
  closeOrigin();
});

/** Sends raw bytes, returns everything the proxy answered until it closed (or 3 s passed). */
function raw(bytes: string, { slow = false } = {}): Promise<string> {
  return new Promise((resolve) => {
    let answer = '';
    const socket = connect(port, '127.0.0.1', () => {
      if (!slow) socket.write(bytes);
      else socket.write(bytes.slice(0, 10)); // then nothing more: a slowloris
    });
    socket.on('data', (c) => { answer += c.toString(); });
    socket.on('close', () => resolve(answer));
    socket.on('error', () => resolve(answer));
    setTimeout(() => { socket.destroy(); resolve(answer); }, 3000);
  });
}

const statusOf = (answer: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);

describe('ambiguous framing never reaches the origin', () => {
  it.each([
    ['Content-Length and Transfer-Encoding together', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['two different Content-Lengths', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 30\r\n\r\nabcGET /smuggled HTTP/1.1\r\n\r\n'],
    ['a malformed Content-Length', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3x\r\n\r\nabc'],
    ['a bad chunk size', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n'],
    ['an obs-fold header line', 'GET / HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n  b\r\n\r\n'],
    ['a Transfer-Encoding that is not chunked last', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n'],
    ['a bare LF inside a header value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\nGET /smuggled HTTP/1.1\r\n\r\n'],
    ['a space before the colon', 'GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n'],
  ])('%s → 400, connection closed', async (_what, bytes) => {
    seen = [];
    const answer = await raw(bytes);
    expect(statusOf(answer)).toBe(400);
    expect(answer).toMatch(/Connection: close/i);
    expect(answer).toMatch(/application\/problem\+json/);
    expect(seen.filter((s) => s.includes('smuggled'))).toEqual([]);
  });
});

describe('requests that are not what a proxy should pass', () => {
  it.each([
    ['TE.CL with an obfuscated Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: xchunked\r\n\r\n5c\r\nGET /smuggled HTTP/1.1\r\n\r\n0\r\n\r\n'],
    ['a tab-prefixed Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding:\tchunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n'],
    ['a chunk size with a trailing junk extension', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;\x00\r\nabc\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n'],
    ['a CR inside a header value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\rX-Injected: 2\r\n\r\n'],
  ])('%s: refused, and nothing smuggled reaches the origin', async (_what, bytes) => {
    seen = [];
    const answer = await raw(bytes);
    expect([0, 400, 501]).toContain(statusOf(answer));
    expect(seen.filter((s) => s.includes('smuggled') || s.includes('X-Injected'))).toEqual([]);
  });

  it('refuses an h2c upgrade (h2c smuggling) instead of tunnelling it to a backend', async () => {
    seen = [];
    const answer = await raw('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nConnection: Upgrade, HTTP2-Settings\r\n\r\n');
    expect(statusOf(answer)).toBe(400);
    expect(answer).toMatch(/only WebSocket upgrades are proxied/);
    expect(seen).toEqual([]);
  });

  it('answers an absolute-form target with 400 and a CONNECT with no tunnel', async () => {
    seen = [];
    expect(statusOf(await raw('GET http://evil.example/x HTTP/1.1\r\nHost: evil.example\r\n\r\n'))).toBe(400);
    const connectAnswer = await raw('CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n');
    expect(statusOf(connectAnswer)).toBe(405);
    expect(seen).toEqual([]);
  });
});

describe('slow clients in numbers', () => {
  it('keeps answering others while 500 slowloris and 100 slow-body connections hang on', async () => {
    const sockets: ReturnType<typeof connect>[] = [];
    const open = (first: string) => new Promise<void>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => { socket.write(first); resolve(); });
      socket.on('error', () => resolve());
      sockets.push(socket);
    });
    await Promise.all(Array.from({ length: 500 }, () => open('GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ')));
    await Promise.all(Array.from({ length: 100 }, () => open('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nab')));
    const latencies: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t0 = performance.now();
      const res = await fetch(`http://127.0.0.1:${port}/fast`);
      await res.text();
      expect(res.status).toBe(200);
      latencies.push(performance.now() - t0);
    }
    for (const socket of sockets) socket.destroy();
    latencies.sort((a, b) => a - b);
    const p99 = latencies[Math.ceil(latencies.length * 0.99) - 1]!;
    console.log(`others' latency with 600 slow connections open: p50 ${latencies[24]!.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms`);
    // The brief's target is 100 ms; the bound leaves room for a loaded CI machine, the log line has the figure.
    expect(p99).toBeLessThan(500);
  }, 30_000);
});

describe('the admin listener', () => {
  it('listens on 127.0.0.1 only by default: 127.0.0.2 on its port is refused', async () => {
    const adminPort = Number(new URL(admin).port);
    const refused = await new Promise<string>((resolve) => {
      const socket = connect(adminPort, '127.0.0.2', () => { socket.destroy(); resolve('connected'); });
      socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
  });
});

describe('limits', () => {
  it('answers 431 to headers over max_header_bytes', async () => {
    const answer = await raw(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(5000)}\r\n\r\n`);
    expect(statusOf(answer)).toBe(431);
  });

  it('answers 431 to more header fields than max_headers, and lets exactly that many through', async () => {
    const headers = (n: number) => Array.from({ length: n }, (_, i) => `X-H${i}: ${i}\r\n`).join('');
    expect(statusOf(await raw(`GET / HTTP/1.1\r\nHost: x\r\n${headers(20)}\r\n`))).toBe(431);
    expect(statusOf(await raw(`GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${headers(18)}\r\n`))).toBe(200);
  });

  it('answers 413 to a declared body over the route limit, without sending it on', async () => {
    seen = [];
    const answer = await raw(`POST /small/x HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n${'b'.repeat(101)}`);
    expect(statusOf(answer)).toBe(413);
    expect(seen).toEqual([]);
  });

  it('answers 413 to a chunked body that grows past the route limit', async () => {
    const chunk = 'c'.repeat(80);
    const answer = await raw(`POST /small/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n50\r\n${chunk}\r\n50\r\n${chunk}\r\n0\r\n\r\n`);
    expect(statusOf(answer)).toBe(413);
  });

  it('lets a body within the limit through, chunked or not', async () => {
    seen = [];
    expect(statusOf(await raw('POST /small/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'))).toBe(200);
    expect(statusOf(await raw('POST /small/y HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\n\r\nworld'))).toBe(200);
    expect(seen).toEqual(['POST /small/x hello', 'POST /small/y world']);
  });

  it('closes a slowloris connection with 408 after the header timeout', async () => {
    const t0 = Date.now();
    const answer = await raw('GET / HTTP/1.1\r\nHost: x\r\n', { slow: true });
    expect(statusOf(answer)).toBe(408);
    expect(Date.now() - t0).toBeLessThan(2900);
  });

  it('counts every rejection by reason', async () => {
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    for (const reason of ['malformed', 'headers_too_large', 'too_many_headers', 'body_too_large', 'request_timeout']) {
      expect(metrics).toMatch(new RegExp(`^portico_rejected_requests_total\\{reason="${reason}"\\} [1-9]`, 'm'));
    }
  });
});
