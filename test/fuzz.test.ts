/**
 * Property-based fuzzing (fast-check) of what strangers control: the request
 * head as it reaches the proxy's socket, the forwarded-header chain, the
 * Cache-Control and Range parsers, and the config loader. A fixed seed in CI;
 * FUZZ_RUNS=N (npm run test:chaos) runs longer with a fresh seed.
 */
import { createServer, type Server } from 'node:http';
import { connect, isIP, type AddressInfo } from 'node:net';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../lib/config/load.js';
import { parseCacheControl } from '../proxy/cache/directives.js';
import { clientView, TrustedProxies } from '../proxy/request/forwarded.js';
import { parseRange } from '../proxy/request/range.js';
import { runProxy, writeConfig, type RunningProxy } from './helpers.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 0);
/** CI: `ciRuns` with a fixed seed; the long form: FUZZ_RUNS (at most `cap`, for the cases that cost a socket round trip). */
const params = (ciRuns: number, cap = Infinity) => (RUNS > 0 ? { numRuns: Math.min(RUNS, cap) } : { numRuns: ciRuns, seed: 20261124 });

/** Strings with the characters that break parsers: CR, LF, NUL, commas, quotes, brackets, non-ASCII. */
/** What Node's HTTP parser lets through in a header value: no CR, LF or NUL. */
const headerValue = () => nasty.map((s) => s.replace(/[\r\n\0]/g, ''));
const nasty = fc.string({ unit: fc.oneof(fc.constantFrom('\r', '\n', '\0', ',', ';', '"', '[', ']', ':', ' ', '=', '\\', 'é', '\u2028'), fc.string({ minLength: 1, maxLength: 1 })), maxLength: 60 });

describe('forwarded headers', () => {
  const trusted = new TrustedProxies(['10.0.0.0/8', '::1/128']);
  it('never throws, always names a real address, and never puts CR or LF in what it sends upstream', () => {
    fc.assert(fc.property(
      fc.record({ xff: fc.oneof(headerValue(), fc.array(fc.oneof(fc.ipV4(), fc.ipV6(), headerValue()), { maxLength: 5 }).map((a) => a.join(', '))), fwd: headerValue(), id: headerValue(), host: headerValue(), proto: headerValue() }),
      fc.oneof(fc.constant('10.1.2.3'), fc.constant('203.0.113.9'), fc.constant('::ffff:10.0.0.1'), fc.ipV6()),
      (h, peer) => {
        const view = clientView({ 'x-forwarded-for': h.xff, forwarded: h.fwd, 'x-request-id': h.id, host: h.host, 'x-forwarded-proto': h.proto }, { remoteAddress: peer, localPort: 8080, encrypted: false }, trusted);
        expect(isIP(view.client)).not.toBe(0);
        expect(view.requestId).toMatch(/^[A-Za-z0-9._:@+=-]{1,200}$/);
        for (const value of Object.values(view.upstreamHeaders)) expect(value).not.toMatch(/[\r\n\0]/);
      },
    ), params(2000));
  });
});

describe('header parsers', () => {
  it('Cache-Control parsing never throws', () => {
    fc.assert(fc.property(nasty, (text) => { parseCacheControl(text); }), params(2000));
  });
  it('a range is always inside the body, or refused, or ignored', () => {
    fc.assert(fc.property(fc.oneof(nasty, fc.tuple(fc.nat(), fc.nat()).map(([a, b]) => `bytes=${a}-${b}`)), fc.nat({ max: 10_000 }), (header, size) => {
      const r = parseRange(header, size);
      if (r.kind === 'partial') expect(0 <= r.start && r.start <= r.end && r.end < size).toBe(true);
    }), params(2000));
  });
});

describe('config loader', () => {
  it('answers any input with a config or a ConfigError, never another error', () => {
    const value = fc.letrec((tie) => ({
      any: fc.oneof({ depthSize: 'small' }, fc.string({ maxLength: 12 }), fc.integer(), fc.boolean(), fc.constant(null), fc.array(tie('any'), { maxLength: 3 }), tie('object')),
      object: fc.dictionary(fc.constantFrom('listen', 'pool', 'upstreams', 'routes', 'tls', 'cache', 'path', 'upstream', 'static', 'servers', 'limits', 'rate', 'host', 'http', 'inference', 'processes', 'x'), tie('any'), { maxKeys: 4 }),
    })).object;
    fc.assert(fc.property(fc.oneof(value.map((v) => stringify(v)), nasty), (text) => {
      try {
        parseConfig(text, '/nonexistent/portico.yaml', {});
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
      }
    }), params(500));
  });
});

describe('request heads on a real socket', () => {
  let origin: Server;
  let proxy: RunningProxy;
  const reached: string[] = [];

  beforeAll(async () => {
    origin = createServer((req, res) => {
      reached.push(`${req.method} ${req.url}`);
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
    proxy = await runProxy(writeConfig(`
listen: { http: "127.0.0.1:0", admin: "127.0.0.1:0" }
pool: { processes: 0 }
access_log: false
upstreams: { app: { health: { path: "" }, servers: [ "http://127.0.0.1:${(origin.address() as AddressInfo).port}" ] } }
routes: [ { path: /, upstream: app } ]
`));
  });
  afterAll(async () => {
    await proxy?.proc.stop();
    origin?.closeAllConnections();
    await new Promise((r) => origin?.close(r));
  });

  /** Sends raw bytes; resolves to what came back before the proxy closed the connection or 1 s passed. */
  function raw(bytes: string): Promise<string> {
    return new Promise((resolve) => {
      const socket = connect(proxy.port, '127.0.0.1');
      let text = '';
      const done = () => { socket.destroy(); resolve(text); };
      socket.setTimeout(1000, done);
      socket.on('data', (c) => { text += c.toString('latin1'); if (/\r\n\r\n/.test(text) && !/^HTTP\/1\.1 100/.test(text)) done(); });
      socket.on('close', done).on('error', done);
      socket.end(bytes);
    });
  }

  it('answers any request head with a status line or a closed connection, lets no second request through, and keeps serving', async () => {
    const token = fc.stringMatching(/^[A-Z]{1,8}$/);
    const head = fc.record({
      method: fc.oneof(fc.constantFrom('GET', 'POST', 'CONNECT', 'PRI', 'OPTIONS'), token, nasty),
      target: fc.oneof(fc.constantFrom('/', '*', 'http://evil.example/x', 'example.com:443', '/%2e%2e/%00', '//a'), nasty.map((s) => `/${s}`)),
      version: fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1 ', 'HTTP/9'),
      headers: fc.array(fc.tuple(fc.oneof(fc.constantFrom('Host', 'Content-Length', 'Transfer-Encoding', 'Upgrade', 'Connection', 'Expect'), nasty), nasty), { maxLength: 4 }),
      body: fc.oneof(fc.constant(''), fc.constant('0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n'), nasty),
    });
    await fc.assert(fc.asyncProperty(head, async (h) => {
      const text = `${h.method} ${h.target} ${h.version}\r\nHost: fuzz\r\n${h.headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n${h.body}`;
      const answer = await raw(text);
      if (answer !== '') expect(answer).toMatch(/^HTTP\/1\.1 \d{3} /);
    }), params(150, 1000));
    expect(reached.filter((r) => r.includes('smuggled'))).toEqual([]);
    expect(proxy.proc.child.exitCode).toBeNull();
    const alive = await fetch(`http://127.0.0.1:${proxy.port}/still-alive`);
    expect(alive.status).toBe(200);
  }, RUNS > 0 ? 1_200_000 : 120_000);
});
