/**
 * What an edge is also expected to do, over real sockets: host routing,
 * path rewriting, header edits, per-client rate and concurrency limits, and
 * on-the-fly compression, through `portico proxy` in front of an echo origin.
 */
import { request, createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runProxy, writeConfig, type RunningProxy } from './helpers.js';

let origin: Server;
let proxy: RunningProxy;
const TEXT = 'portico '.repeat(512); // 4 KiB, compressible

interface Answer { status: number; headers: IncomingHttpHeaders; body: Buffer; json: () => any } // eslint-disable-line @typescript-eslint/no-explicit-any

/** node:http, so that Host and every other header are ours to set. */
function send(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port: proxy.port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode!, headers: res.headers, body, json: () => JSON.parse(body.toString()) });
      });
    }).on('error', reject).end();
  });
}

beforeAll(async () => {
  origin = createServer((req, res) => {
    const url = req.url ?? '/';
    if (url.startsWith('/conc/')) return void setTimeout(() => res.end('slow'), 400);
    if (url === '/zip/big') return void res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(TEXT);
    // As with nginx's gzip_min_length, the size is known only from Content-Length.
    if (url === '/zip/small') return void res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 4 }).end('tiny');
    if (url === '/zip/png') return void res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.alloc(4096, 1));
    if (url === '/zip/encoded') return void res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip' }).end(gzipSync(TEXT));
    if (url === '/zip/range') return void res.writeHead(206, { 'content-type': 'text/plain', 'content-range': `bytes 0-4095/8192` }).end(TEXT);
    res.writeHead(200, { 'content-type': 'application/json', 'x-powered-by': 'origin', 'set-cookie': 'a=1' });
    res.end(JSON.stringify({ url, headers: req.headers }));
  });
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
  proxy = await runProxy(writeConfig(`
listen: { http: "127.0.0.1:0", admin: "127.0.0.1:0" }
pool: { processes: 0 }
access_log: false
trusted_proxies: [ 127.0.0.1 ]
upstreams:
  app: { health: { path: "" }, servers: [ "${url}" ] }
routes:
  - { name: api-host, host: api.example.com, path: /, upstream: app, request_headers: { set: { x-site: api } } }
  - { name: api-host-v2, host: api.example.com, path: /v2/, upstream: app, strip_prefix: true }
  - { name: wild, host: "*.example.com", path: /, upstream: app, request_headers: { set: { x-site: wildcard } } }
  - name: v1
    path: /v1/
    upstream: app
    strip_prefix: true
    request_headers: { set: { x-env: test }, add: { x-tag: b }, remove: [ cookie ] }
    response_headers: { set: { x-frame-options: DENY }, add: { set-cookie: "b=2" }, remove: [ x-powered-by ] }
  - { name: legacy, path: /old, upstream: app, replace_prefix: /new }
  - { name: limited, path: /limited/, upstream: app, limits: { rate: "30/m", burst: 3 } }
  - { name: conc, path: /conc/, upstream: app, limits: { concurrent: 2 } }
  - { name: zip, path: /zip/, upstream: app, compress: true }
  - { name: default, path: /, upstream: app }
`));
});

afterAll(async () => {
  await proxy?.proc.stop();
  origin?.closeAllConnections();
  await new Promise((r) => origin?.close(r));
});

describe('host routing', () => {
  it('matches an exact host, then the longest wildcard, then the default routes', async () => {
    expect((await send('/x', { host: 'api.example.com' })).json().headers['x-site']).toBe('api');
    expect((await send('/x', { host: 'API.EXAMPLE.COM:8080' })).json().headers['x-site']).toBe('api');
    expect((await send('/x', { host: 'www.example.com' })).json().headers['x-site']).toBe('wildcard');
    const other = (await send('/x', { host: 'other.org' })).json();
    expect([other.url, other.headers['x-site']]).toEqual(['/x', undefined]);
  });

  it('takes the longest path within the host, and rewrites it there', async () => {
    expect((await send('/v2/items?id=3', { host: 'api.example.com' })).json().url).toBe('/items?id=3');
  });
});

describe('path rewriting and header edits', () => {
  it('strips the prefix and edits request and response headers', async () => {
    const res = await send('/v1/users?page=2', { cookie: 'secret=1', 'x-tag': 'a' });
    const echoed = res.json();
    expect(echoed.url).toBe('/users?page=2');
    expect(echoed.headers).toMatchObject({ 'x-env': 'test', 'x-tag': 'a, b' });
    expect(echoed.headers.cookie).toBeUndefined();
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['set-cookie']).toEqual(['a=1', 'b=2']);
  });

  it('applies response edits to the proxy\'s own answers too', async () => {
    const res = await send('/v1/x', { 'content-length': String(2 * 1024 * 1024) }, 'POST'); // over the route's max_body: 413 from the proxy
    expect([res.status, res.headers['x-frame-options']]).toEqual([413, 'DENY']);
  });

  it('replaces a prefix', async () => {
    expect((await send('/old/a/b')).json().url).toBe('/new/a/b');
    expect((await send('/old')).json().url).toBe('/new');
  });
});

describe('per-client limits', () => {
  it('answers a burst with exactly `burst` successes, then 429 with a correct Retry-After', async () => {
    const statuses: number[] = [];
    let refused: Answer | undefined;
    for (let i = 0; i < 5; i++) {
      const res = await send('/limited/a', { 'x-forwarded-for': '203.0.113.10' });
      statuses.push(res.status);
      if (res.status === 429) refused ??= res;
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expect(refused!.headers['retry-after']).toBe('2'); // 30/min: a token every 2 s
    expect(refused!.headers['content-type']).toBe('application/problem+json');
    expect(refused!.json().detail).toMatch(/30 requests\/min per client with bursts of 3/);
  });

  it('keys on the real client behind a trusted proxy: another client has its own bucket', async () => {
    expect((await send('/limited/a', { 'x-forwarded-for': '203.0.113.11' })).status).toBe(200);
    expect((await send('/limited/a', { 'x-forwarded-for': '198.51.100.1, 203.0.113.12' })).status).toBe(200);
  });

  it('caps requests in progress per client', async () => {
    const headers = { 'x-forwarded-for': '203.0.113.20' };
    const [a, b, c] = await Promise.all([send('/conc/1', headers), send('/conc/2', headers), new Promise<Answer>((r) => setTimeout(() => r(send('/conc/3', headers)), 100))]);
    expect([a.status, b.status, c.status]).toEqual([200, 200, 429]);
    expect(c.headers['retry-after']).toBe('1');
    expect((await send('/conc/4', headers)).status).toBe(200); // the slots were given back
    const metrics = await (await fetch(`${proxy.admin}/metrics`)).text();
    expect(metrics).toMatch(/portico_limited_requests_total\{route="limited",reason="rate"\} 2/);
    expect(metrics).toMatch(/portico_limited_requests_total\{route="conc",reason="concurrent"\} 1/);
  });
});

describe('compression', () => {
  it('negotiates Brotli or gzip and says Vary: Accept-Encoding', async () => {
    const br = await send('/zip/big', { 'accept-encoding': 'gzip, br' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers.vary).toMatch(/accept-encoding/i);
    expect(brotliDecompressSync(br.body).toString()).toBe(TEXT);
    expect(br.body.length).toBeLessThan(TEXT.length / 4);
    const gz = await send('/zip/big', { 'accept-encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body).toString()).toBe(TEXT);
    const plain = await send('/zip/big');
    expect([plain.headers['content-encoding'], plain.body.toString()]).toEqual([undefined, TEXT]);
  });

  it('never compresses twice, ranges, small bodies, incompressible types or other routes', async () => {
    const accept = { 'accept-encoding': 'br, gzip' };
    const encoded = await send('/zip/encoded', accept);
    expect(encoded.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(encoded.body).toString()).toBe(TEXT);
    for (const path of ['/zip/range', '/zip/small', '/zip/png']) {
      expect((await send(path, accept)).headers['content-encoding'], path).toBeUndefined();
    }
    expect((await send('/elsewhere', accept)).headers['content-encoding']).toBeUndefined();
  });
});
