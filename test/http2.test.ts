/**
 * HTTP/2 on the TLS listener, over real TLS with node:http2 as the client:
 * ALPN offers h2 and http/1.1; an h2 request goes through the same routing,
 * forwarding headers, limits, cache and metrics to an HTTP/1.1 upstream.
 */
import { createServer, type Server } from 'node:http';
import { connect, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runProxy, writeConfig, type RunningProxy } from './helpers.js';

let origin: Server;
let proxy: RunningProxy;
let session: ClientHttp2Session;

function h2(path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; headers: IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path, ':method': body === undefined ? 'GET' : 'POST', ...headers });
    let text = '';
    let head: IncomingHttpHeaders = {};
    stream.on('response', (h) => { head = h; });
    stream.on('data', (c: Buffer) => { text += c.toString(); });
    stream.on('end', () => resolve({ status: Number(head[':status']), headers: head, text }));
    stream.on('error', reject);
    stream.end(body);
  });
}

beforeAll(async () => {
  origin = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=60', connection: 'keep-alive', 'keep-alive': 'timeout=5' });
      res.end(JSON.stringify({ version: req.httpVersion, url: req.url, method: req.method, body, headers: req.headers }));
    });
  });
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
  proxy = await runProxy(writeConfig(`
listen: { http: "127.0.0.1:0", https: "127.0.0.1:0", admin: "127.0.0.1:0" }
pool: { processes: 0 }
access_log: false
tls: { cert: auto }
upstreams:
  app: { health: { path: "" }, servers: [ "${url}" ] }
routes:
  - { name: cached, path: /cached/, upstream: app, cache: true }
  - { name: limited, path: /limited/, upstream: app, limits: { rate: "1/m", burst: 1 } }
  - { name: app, path: /, upstream: app }
`));
  session = connect(`https://127.0.0.1:${proxy.https}`, { rejectUnauthorized: false, servername: 'localhost' });
  await new Promise<void>((resolve, reject) => session.once('connect', () => resolve()).once('error', reject));
});

afterAll(async () => {
  session?.close();
  await proxy?.proc.stop();
  origin?.closeAllConnections();
  await new Promise((r) => origin?.close(r));
});

describe('HTTP/2 on the TLS listener', () => {
  it('negotiates h2 by ALPN and still offers http/1.1', async () => {
    expect(session.alpnProtocol).toBe('h2');
    const protocol = await new Promise<string | false>((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: proxy.https!, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => {
        resolve(socket.alpnProtocol ?? false);
        socket.end();
      }).on('error', reject);
    });
    expect(protocol).toBe('http/1.1');
  });

  it('proxies an h2 request to an HTTP/1.1 upstream with the forwarding headers and the request id', async () => {
    const res = await h2('/items?id=7', { 'x-custom': 'kept' });
    expect(res.status).toBe(200);
    const echoed = JSON.parse(res.text);
    expect(echoed).toMatchObject({ version: '1.1', url: '/items?id=7', method: 'GET' });
    expect(echoed.headers).toMatchObject({ 'x-custom': 'kept', 'x-forwarded-proto': 'https', host: `localhost:${proxy.https}` }); // from :authority
    expect(Object.keys(echoed.headers).some((h: string) => h.startsWith(':'))).toBe(false);
    expect(res.headers['x-request-id']).toBe(echoed.headers['x-request-id']);
    expect(res.headers.connection).toBeUndefined(); // hop-by-hop fields never reach an h2 client
  });

  it('sends request bodies and runs many streams on one connection', async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => h2(`/post/${i}`, { 'content-type': 'text/plain' }, `body-${i}`)));
    expect(answers.map((a) => JSON.parse(a.text).body)).toEqual(Array.from({ length: 20 }, (_, i) => `body-${i}`));
  });

  it('applies the cache and the limits to h2 requests', async () => {
    expect((await h2('/cached/a')).headers['x-cache']).toBe('MISS');
    expect((await h2('/cached/a')).headers['x-cache']).toBe('HIT');
    expect((await h2('/limited/a')).status).toBe(200);
    const refused = await h2('/limited/a');
    expect([refused.status, refused.headers['retry-after']]).toEqual([429, '60']);
  });

  it('counts h2 requests in the metrics like any other', async () => {
    const text = await (await fetch(`${proxy.admin}/metrics`)).text();
    expect(Number(/^portico_requests_total\{route="app",upstream="app",server="[^"]+",code="200",method="POST"\} (\d+)/m.exec(text)?.[1])).toBeGreaterThanOrEqual(20);
  });
});
