/**
 * The response cache over real sockets: `portico proxy` in front of a scripted
 * node:http origin that counts what reaches it. One rule of RFC 9111 / RFC 5861
 * a test, each on its own path; times are bounded only to let a response go
 * stale (max-age=1 and a wait past it).
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, runProxy, writeConfig, type RunningProxy } from './helpers.js';

type Script = (req: IncomingMessage, res: ServerResponse, body: string) => void;

const scripts = new Map<string, Script>();
const seen = new Map<string, IncomingMessage[]>();
let server: Server;
let proxy: RunningProxy;
let base: string;

/** Answers `path` (without query) with `script` and records every request that reaches the origin for it. */
function script(path: string, fn: Script): { hits: () => number; last: () => IncomingMessage } {
  scripts.set(path, fn);
  seen.set(path, []);
  return { hits: () => seen.get(path)!.length, last: () => seen.get(path)!.at(-1)! };
}

/** A counter per version: every origin answer carries the version it was. */
function versions(): () => number {
  let n = 0;
  return () => ++n;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A GET through node:http: fetch turns any conditional request into
 * `Cache-Control: no-cache` (the Fetch standard's cache mode), which would
 * test something else.
 */
function conditionalGet(path: string, headers: Record<string, string>): Promise<{ status: number; text: string; etag: string | undefined; xcache: string | undefined }> {
  return new Promise((resolve, reject) => {
    request(`${base}${path}`, { headers }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => { text += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode!, text, etag: res.headers.etag, xcache: res.headers['x-cache'] as string | undefined }));
    }).on('error', reject).end();
  });
}

async function get(path: string, init: RequestInit = {}) {
  const res = await fetch(`${base}${path}`, init);
  return { status: res.status, headers: res.headers, text: await res.text(), xcache: res.headers.get('x-cache') };
}

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => {
      const path = (req.url ?? '/').split('?', 1)[0]!;
      seen.get(path)?.push(req);
      const fn = scripts.get(path);
      if (!fn) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('no script');
      fn(req, res, body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const file = writeConfig(`
listen: { http: "127.0.0.1:0", admin: "127.0.0.1:0" }
pool: { processes: 0 }
cache: { max_bytes: 1MiB, max_object_bytes: 64KiB, lock_timeout: 5s }
upstreams:
  app:
    policy: round-robin
    health: { path: "" }
    servers: [ "${origin}" ]
routes:
  - { name: post, path: /post/, upstream: app, cache: { post: true } }
  - { name: plain, path: /plain/, upstream: app }
  - { name: cached, path: /, upstream: app, cache: true }
`);
  proxy = await runProxy(file);
  base = `http://127.0.0.1:${proxy.port}`;
});

afterAll(async () => {
  await proxy?.proc.stop();
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
});

describe('storing and serving', () => {
  it('stores a fresh response and serves it with Age and X-Cache: HIT, without the origin', async () => {
    const o = script('/fresh', (_req, res) => res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain', 'x-custom': 'kept' }).end('hello'));
    const first = await get('/fresh');
    expect([first.status, first.xcache, first.text]).toEqual([200, 'MISS', 'hello']);
    const second = await get('/fresh');
    expect([second.status, second.xcache, second.text]).toEqual([200, 'HIT', 'hello']);
    expect(second.headers.get('age')).toMatch(/^\d+$/);
    expect(second.headers.get('x-custom')).toBe('kept'); // unknown headers stored and served untouched
    expect(second.headers.get('x-request-id')).not.toBe(first.headers.get('x-request-id'));
    expect(o.hits()).toBe(1);
    const logged = await proxy.proc.waitForLog((l) => l.msg === 'request' && l.id === second.headers.get('x-request-id'));
    expect(logged).toMatchObject({ path: '/fresh', status: 200, cache: 'HIT', route: 'cached', completed: true });
  });

  it('keys on the whole target: another query is another entry', async () => {
    const o = script('/query', (req, res) => res.writeHead(200, { 'cache-control': 'max-age=60' }).end(req.url));
    expect((await get('/query?a=1')).text).toBe('/query?a=1');
    expect((await get('/query?a=2')).text).toBe('/query?a=2');
    expect((await get('/query?a=1')).xcache).toBe('HIT');
    expect(o.hits()).toBe(2);
  });

  it.each([
    ['no-store', { 'cache-control': 'no-store, max-age=60' }],
    ['private', { 'cache-control': 'private, max-age=60' }],
    ['a Set-Cookie', { 'cache-control': 'max-age=60', 'set-cookie': 'session=abc' }],
    ['Vary: *', { 'cache-control': 'max-age=60', vary: '*' }],
    ['no freshness or validator', {}],
  ])('does not store a response with %s', async (name, headers) => {
    const path = `/not-stored-${name.replace(/\W+/g, '-')}`;
    const o = script(path, (_req, res) => res.writeHead(200, headers).end('x'));
    await get(path);
    const again = await get(path);
    expect(again.xcache).toBe('MISS');
    expect(o.hits()).toBe(2);
  });

  it('computes Age from the origin\'s Age (RFC 9111 §4.2.3) and lets it expire the response', async () => {
    const o = script('/aged', (_req, res) => res.writeHead(200, { 'cache-control': 'max-age=100', age: '40' }).end('x'));
    await get('/aged');
    const hit = await get('/aged');
    expect(Number(hit.headers.get('age'))).toBeGreaterThanOrEqual(40);
    script('/aged-out', (_req, res) => res.writeHead(200, { 'cache-control': 'max-age=100', age: '150' }).end('x'));
    await get('/aged-out');
    expect((await get('/aged-out')).xcache).toBe('MISS');
    expect(o.hits()).toBe(1);
  });

  it('takes freshness from Expires − Date, and treats an invalid Expires as expired', async () => {
    const now = Date.now();
    const o = script('/expires', (_req, res) => res.writeHead(200, { date: new Date(now).toUTCString(), expires: new Date(now + 60_000).toUTCString() }).end('x'));
    await get('/expires');
    expect((await get('/expires')).xcache).toBe('HIT');
    const bad = script('/expires-bad', (_req, res) => res.writeHead(200, { expires: '0', 'last-modified': new Date(now - 10_000_000).toUTCString() }).end('x'));
    await get('/expires-bad');
    expect((await get('/expires-bad')).xcache).not.toBe('HIT');
    expect([o.hits(), bad.hits()]).toEqual([1, 2]);
  });

  it('gives a heuristic lifetime only to status codes cacheable by default', async () => {
    const lastModified = new Date(Date.now() - 10 * 86_400_000).toUTCString();
    const notFound = script('/heuristic-404', (_req, res) => res.writeHead(404, { 'last-modified': lastModified }).end('gone'));
    const error = script('/heuristic-500', (_req, res) => res.writeHead(500, { 'last-modified': lastModified }).end('oops'));
    for (let i = 0; i < 2; i++) {
      await get('/heuristic-404');
      await get('/heuristic-500');
    }
    expect((await get('/heuristic-404')).xcache).toBe('HIT');
    expect([notFound.hits(), error.hits()]).toEqual([1, 2]);
  });

  it('serves HEAD from a stored GET, with the headers and no body', async () => {
    const o = script('/head', (_req, res) => res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' }).end('twelve bytes'));
    await get('/head');
    const head = await get('/head', { method: 'HEAD' });
    expect([head.status, head.xcache, head.text, head.headers.get('content-length')]).toEqual([200, 'HIT', '', '12']);
    expect(o.hits()).toBe(1);
  });

  it('sends a HEAD it holds nothing for to the origin as HEAD, and does not store it', async () => {
    const o = script('/head-miss', (req, res) => res.writeHead(200, { 'cache-control': 'max-age=60', 'x-method': req.method! }).end());
    const head = await get('/head-miss', { method: 'HEAD' });
    expect([head.xcache, head.headers.get('x-method')]).toEqual(['MISS', 'HEAD']);
    expect((await get('/head-miss')).xcache).toBe('MISS');
    expect(o.hits()).toBe(2);
  });

  it('answers a range from a stored response', async () => {
    script('/range', (_req, res) => res.writeHead(200, { 'cache-control': 'max-age=60', etag: '"r1"' }).end('0123456789'));
    await get('/range');
    const part = await get('/range', { headers: { range: 'bytes=2-5' } }); // fetch sends Range without no-cache
    expect([part.status, part.text, part.headers.get('content-range')]).toEqual([206, '2345', 'bytes 2-5/10']);
    const stale = await conditionalGet('/range', { range: 'bytes=2-5', 'if-range': '"other"' });
    expect([stale.status, stale.text, stale.xcache]).toEqual([200, '0123456789', 'HIT']);
    const current = await conditionalGet('/range', { range: 'bytes=2-5', 'if-range': '"r1"' });
    expect([current.status, current.text]).toEqual([206, '2345']);
    expect((await get('/range', { headers: { range: 'bytes=50-' } })).status).toBe(416);
  });

  it('passes a range it holds nothing for to the origin untouched', async () => {
    const o = script('/range-miss', (req, res) => res.writeHead(206, { 'content-range': 'bytes 0-0/10', 'cache-control': 'max-age=60' }).end(String(req.headers.range)));
    const part = await get('/range-miss', { headers: { range: 'bytes=0-0' } });
    expect([part.status, part.text]).toEqual([206, 'bytes=0-0']);
    await get('/range-miss', { headers: { range: 'bytes=0-0' } });
    expect(o.hits()).toBe(2);
  });

  it('serves binary bodies byte for byte from the store, small (kept as text) and large', async () => {
    const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i)); // not UTF-8: 0x80–0xff alone
    const bodies = { '/bin-small': every, '/bin-large': Buffer.concat(Array.from({ length: 40 }, () => every)) }; // 256 B, 10 KiB
    for (const [path, body] of Object.entries(bodies)) {
      const o = script(path, (_req, res) => res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'application/octet-stream' }).end(body));
      for (const expected of ['MISS', 'HIT']) {
        const res = await fetch(`${base}${path}`);
        const got = Buffer.from(await res.arrayBuffer());
        expect([res.headers.get('x-cache'), got.equals(body)]).toEqual([expected, true]);
        if (expected === 'HIT') expect(res.headers.get('content-length')).toBe(String(body.length));
      }
      expect(o.hits()).toBe(1);
    }
  });

  it('does not store a response larger than max_object_bytes, and still delivers it whole', async () => {
    const big = 'x'.repeat(100 * 1024);
    const o = script('/big', (_req, res) => res.writeHead(200, { 'cache-control': 'max-age=60' }).end(big));
    expect((await get('/big')).text.length).toBe(big.length);
    const chunked = script('/big-chunked', (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      for (let i = 0; i < 10; i++) res.write('y'.repeat(10 * 1024));
      res.end();
    });
    expect((await get('/big-chunked')).text.length).toBe(100 * 1024);
    await get('/big');
    await get('/big-chunked');
    expect([o.hits(), chunked.hits()]).toEqual([2, 2]);
  });
});

describe('Vary', () => {
  it('keeps one variant per value of the varying field, normalised', async () => {
    const v = versions();
    const o = script('/vary', (req, res) => res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'Accept-Language, Accept-Encoding' }).end(`${req.headers['accept-language']} ${v()}`));
    const en = await get('/vary', { headers: { 'accept-language': 'en', 'accept-encoding': 'gzip, br' } });
    const fr = await get('/vary', { headers: { 'accept-language': 'fr', 'accept-encoding': 'gzip, br' } });
    expect([en.text, fr.text]).toEqual(['en 1', 'fr 2']);
    const enAgain = await get('/vary', { headers: { 'accept-language': 'en', 'accept-encoding': 'GZIP,br' } });
    expect([enAgain.xcache, enAgain.text]).toEqual(['HIT', 'en 1']);
    const none = await get('/vary', { headers: { 'accept-encoding': 'gzip, br' } });
    expect(none.xcache).toBe('MISS');
    expect(o.hits()).toBe(3);
  });
});

describe('validation', () => {
  it('revalidates a stale response with its validators and merges the 304 (X-Cache: REVALIDATED)', async () => {
    let asked: IncomingMessage | undefined;
    const o = script('/validate', (req, res) => {
      if (req.headers['if-none-match'] === '"v1"') {
        asked = req;
        return void res.writeHead(304, { etag: '"v1"', 'cache-control': 'max-age=60', 'x-version': 'refreshed' }).end();
      }
      res.writeHead(200, { etag: '"v1"', 'cache-control': 'max-age=1', 'x-version': 'first', 'last-modified': 'Tue, 24 Nov 2026 10:00:00 GMT' }).end('body v1');
    });
    await get('/validate');
    await sleep(2100);
    const revalidated = await get('/validate');
    expect([revalidated.status, revalidated.xcache, revalidated.text, revalidated.headers.get('x-version')]).toEqual([200, 'REVALIDATED', 'body v1', 'refreshed']);
    expect(asked?.headers['if-modified-since']).toBe('Tue, 24 Nov 2026 10:00:00 GMT');
    const hit = await get('/validate');
    expect([hit.xcache, hit.headers.get('cache-control')]).toEqual(['HIT', 'max-age=60']);
    expect(o.hits()).toBe(2);
  });

  it('stores the new response when validation returns one', async () => {
    const v = versions();
    const o = script('/validate-changed', (_req, res) => {
      const n = v();
      res.writeHead(200, { etag: `"v${n}"`, 'cache-control': n === 1 ? 'max-age=1' : 'max-age=60' }).end(`v${n}`);
    });
    await get('/validate-changed');
    await sleep(2100);
    expect((await get('/validate-changed')).text).toBe('v2');
    expect(o.last().headers['if-none-match']).toBe('"v1"');
    const hit = await get('/validate-changed');
    expect([hit.xcache, hit.text]).toEqual(['HIT', 'v2']);
  });

  it('answers a client\'s matching If-None-Match or If-Modified-Since with 304 from the store', async () => {
    const o = script('/conditional', (_req, res) => res.writeHead(200, { etag: 'W/"c1"', 'last-modified': 'Tue, 24 Nov 2026 10:00:00 GMT', 'cache-control': 'max-age=60' }).end('content'));
    await get('/conditional');
    const inm = await conditionalGet('/conditional', { 'if-none-match': '"c0", W/"c1"' });
    expect([inm.status, inm.text, inm.etag, inm.xcache]).toEqual([304, '', 'W/"c1"', 'HIT']);
    const ims = await conditionalGet('/conditional', { 'if-modified-since': 'Tue, 24 Nov 2026 11:00:00 GMT' });
    expect(ims.status).toBe(304);
    const changed = await conditionalGet('/conditional', { 'if-none-match': '"c0"' });
    expect([changed.status, changed.text]).toEqual([200, 'content']);
    expect(o.hits()).toBe(1);
  });

  it('fetches a full response to store even when a client\'s first request is conditional', async () => {
    const o = script('/conditional-miss', (req, res) => {
      if (req.headers['if-none-match']) return void res.writeHead(304).end();
      res.writeHead(200, { etag: '"m1"', 'cache-control': 'max-age=60' }).end('full');
    });
    const first = await conditionalGet('/conditional-miss', { 'if-none-match': '"m1"' });
    expect(first.status).toBe(200);
    expect((await conditionalGet('/conditional-miss', { 'if-none-match': '"m1"' })).status).toBe(304);
    expect(o.hits()).toBe(1);
  });
});

describe('request directives', () => {
  it('no-cache and Pragma: no-cache go to the origin; max-age and min-fresh bound what is acceptable', async () => {
    const o = script('/req-directives', (_req, res) => res.writeHead(200, { 'cache-control': 'max-age=60' }).end('x'));
    await get('/req-directives');
    expect((await get('/req-directives', { headers: { 'cache-control': 'no-cache' } })).xcache).toBe('MISS');
    expect((await get('/req-directives', { headers: { pragma: 'no-cache' } })).xcache).toBe('MISS');
    expect((await get('/req-directives', { headers: { 'cache-control': 'max-age=0' } })).xcache).toBe('MISS');
    expect((await get('/req-directives', { headers: { 'cache-control': 'min-fresh=3600' } })).xcache).toBe('MISS');
    expect((await get('/req-directives', { headers: { 'cache-control': 'max-age=30' } })).xcache).toBe('HIT');
    expect(o.hits()).toBe(5);
  });

  it('only-if-cached answers 504 when nothing is stored, and never reaches the origin', async () => {
    const o = script('/only-if-cached', (_req, res) => res.writeHead(200, { 'cache-control': 'max-age=60' }).end('x'));
    const res = await getJson(`${base}/only-if-cached`, { headers: { 'cache-control': 'only-if-cached' } });
    expect(res.status).toBe(504);
    expect(res.body.detail).toMatch(/only-if-cached/);
    expect(o.hits()).toBe(0);
  });

  it('max-stale accepts a stale response; must-revalidate refuses it', async () => {
    const o = script('/max-stale', (_req, res) => res.writeHead(200, { 'cache-control': 'max-age=1' }).end('x'));
    const strict = script('/max-stale-strict', (_req, res) => res.writeHead(200, { 'cache-control': 'max-age=1, must-revalidate' }).end('x'));
    await get('/max-stale');
    await get('/max-stale-strict');
    await sleep(2100);
    expect((await get('/max-stale', { headers: { 'cache-control': 'max-stale=60' } })).xcache).toBe('STALE');
    expect((await get('/max-stale-strict', { headers: { 'cache-control': 'max-stale=60' } })).xcache).toBe('MISS');
    expect([o.hits(), strict.hits()]).toEqual([1, 2]);
  });

  it('does not store when the request says no-store', async () => {
    const o = script('/req-no-store', (_req, res) => res.writeHead(200, { 'cache-control': 'max-age=60' }).end('x'));
    await get('/req-no-store', { headers: { 'cache-control': 'no-store' } });
    await get('/req-no-store');
    expect(o.hits()).toBe(2);
  });
});

describe('Authorization', () => {
  it('does not store an authorised response unless it is marked shareable', async () => {
    const secret = script('/auth-private', (_req, res) => res.writeHead(200, { 'cache-control': 'max-age=60' }).end('mine'));
    const shared = script('/auth-public', (_req, res) => res.writeHead(200, { 'cache-control': 'public, max-age=60' }).end('ours'));
    for (let i = 0; i < 2; i++) {
      await get('/auth-private', { headers: { authorization: 'Bearer a' } });
      await get('/auth-public', { headers: { authorization: 'Bearer a' } });
    }
    expect([secret.hits(), shared.hits()]).toEqual([2, 1]);
    expect((await get('/auth-private')).xcache).toBe('MISS');
  });
});

describe('stale content (RFC 5861)', () => {
  it('stale-while-revalidate answers at once from the store and refreshes in the background', async () => {
    const v = versions();
    const o = script('/swr', (_req, res) => {
      const n = v();
      res.writeHead(200, { 'cache-control': `max-age=${n === 1 ? 1 : 60}, stale-while-revalidate=60` }).end(`v${n}`);
    });
    await get('/swr');
    await sleep(2100);
    const stale = await get('/swr');
    expect([stale.xcache, stale.text]).toEqual(['STALE', 'v1']);
    await waitFor(() => o.hits() === 2);
    await sleep(100); // the background response is stored when its body ends
    const fresh = await get('/swr');
    expect([fresh.xcache, fresh.text]).toEqual(['HIT', 'v2']);
  });

  it('survives a background revalidation whose error answer dies mid-body, and keeps serving', async () => {
    let n = 0;
    const o = script('/swr-dies', (_req, res) => {
      if (++n === 1) return void res.writeHead(200, { 'cache-control': 'max-age=1, stale-while-revalidate=60' }).end('v1');
      res.writeHead(500, { 'content-length': '100000' });
      res.write('partial');
      setTimeout(() => res.socket?.destroy(), 50);
    });
    await get('/swr-dies');
    await sleep(2100);
    const stale = await get('/swr-dies');
    expect([stale.xcache, stale.text]).toEqual(['STALE', 'v1']);
    await waitFor(() => o.hits() === 2);
    await sleep(300); // past the origin's hang-up, which the background fetch only drains
    const again = await get('/swr-dies');
    expect(again.text).toBe('v1');
  });

  it('stale-if-error serves the stored response when the origin fails, and the error when it may not', async () => {
    let failing = false;
    const o = script('/sie', (_req, res) => {
      if (failing) return void res.writeHead(500).end('broken');
      res.writeHead(200, { 'cache-control': 'max-age=1, stale-if-error=60' }).end('good');
    });
    const strict = script('/sie-none', (_req, res) => {
      if (failing) return void res.writeHead(503).end('broken');
      res.writeHead(200, { 'cache-control': 'max-age=1' }).end('good');
    });
    await get('/sie');
    await get('/sie-none');
    await sleep(2100);
    failing = true;
    const stale = await get('/sie');
    expect([stale.status, stale.xcache, stale.text]).toEqual([200, 'STALE', 'good']);
    expect((await get('/sie-none')).status).toBe(503);
    const asked = await get('/sie-none', { headers: { 'cache-control': 'stale-if-error=60' } });
    expect([asked.status, asked.text]).toEqual([200, 'good']);
    expect([o.hits(), strict.hits()]).toEqual([2, 3]);
  });
});

describe('invalidation by unsafe methods (RFC 9111 §4.4)', () => {
  it('a successful POST, PUT or DELETE drops the stored response of its URL', async () => {
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const path = `/invalidate-${method.toLowerCase()}`;
      const o = script(path, (req, res) => res.writeHead(200, { 'cache-control': 'max-age=60' }).end(req.method));
      await get(path);
      expect((await get(path)).xcache).toBe('HIT');
      const write = await get(path, { method, body: method === 'DELETE' ? undefined : 'x' });
      expect([write.status, write.xcache]).toEqual([200, 'BYPASS']);
      expect((await get(path)).xcache).toBe('MISS');
      expect(o.hits()).toBe(3);
    }
  });

  it('also drops the same-origin Location and Content-Location, and not after an error', async () => {
    const target = script('/created', (_req, res) => res.writeHead(200, { 'cache-control': 'max-age=60' }).end('item'));
    const described = script('/described', (_req, res) => res.writeHead(200, { 'cache-control': 'max-age=60' }).end('item'));
    script('/collection', (req, res) => {
      if (req.method === 'PATCH') return void res.writeHead(409).end('conflict');
      res.writeHead(201, { location: '/created', 'content-location': `http://${req.headers.host}/described` }).end();
    });
    await get('/created');
    await get('/described');
    await get('/collection', { method: 'PATCH', body: 'x' });
    expect((await get('/created')).xcache).toBe('HIT');
    await get('/collection', { method: 'POST', body: 'x' });
    expect((await get('/created')).xcache).toBe('MISS');
    expect((await get('/described')).xcache).toBe('MISS');
    expect([target.hits(), described.hits()]).toEqual([2, 2]);
  });

  it('passes methods it does not cache through untouched, marked BYPASS', async () => {
    const o = script('/other-methods', (req, res, body) => res.writeHead(200, { 'content-type': 'text/plain' }).end(`${req.method} ${body}`));
    const res = await get('/other-methods', { method: 'OPTIONS' });
    expect([res.xcache, res.text]).toEqual(['BYPASS', 'OPTIONS ']);
    const custom = await get('/other-methods', { method: 'REPORT', body: 'b' });
    expect([custom.xcache, custom.text]).toEqual(['BYPASS', 'REPORT b']);
    expect(o.hits()).toBe(2);
  });

  it('leaves routes without cache alone: no X-Cache, nothing stored', async () => {
    const o = script('/plain/x', (_req, res) => res.writeHead(200, { 'cache-control': 'max-age=60' }).end('x'));
    const res = await get('/plain/x');
    await get('/plain/x');
    expect(res.xcache).toBeNull();
    expect(o.hits()).toBe(2);
  });
});

describe('request coalescing', () => {
  it('sends 100 concurrent misses for one URL to the origin once', async () => {
    const o = script('/coalesce', (_req, res) => setTimeout(() => res.writeHead(200, { 'cache-control': 'max-age=60' }).end('shared'), 300));
    const answers = await Promise.all(Array.from({ length: 100 }, () => get('/coalesce')));
    expect(answers.every((a) => a.status === 200 && a.text === 'shared')).toBe(true);
    expect(answers.filter((a) => a.xcache === 'MISS').length).toBe(1);
    expect(o.hits()).toBe(1);
    const metrics = await (await fetch(`${proxy.admin}/metrics`)).text();
    expect(Number(/^portico_cache_coalesced_total (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(99);
  });

  it('lets waiters go to the origin themselves when the response cannot be stored', async () => {
    const o = script('/coalesce-private', (_req, res) => setTimeout(() => res.writeHead(200, { 'cache-control': 'private' }).end('mine'), 200));
    const answers = await Promise.all(Array.from({ length: 5 }, () => get('/coalesce-private')));
    expect(answers.every((a) => a.status === 200 && a.text === 'mine')).toBe(true);
    expect(o.hits()).toBe(5);
  });
});

describe('opt-in POST caching', () => {
  it('answers a repeated POST from the store, keyed on the normalised JSON body', async () => {
    const o = script('/post/compute', (_req, res, body) => res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'application/json' }).end(JSON.stringify({ got: JSON.parse(body) })));
    const post = (body: string) => get('/post/compute', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    expect((await post('{"val": 1, "op": "foo"}')).xcache).toBe('MISS');
    const again = await post('{ "op":"foo","val":1 }');
    expect([again.xcache, again.text]).toEqual(['HIT', '{"got":{"val":1,"op":"foo"}}']);
    expect((await post('{"val": 2, "op": "foo"}')).xcache).toBe('MISS');
    expect(o.hits()).toBe(2);
  });

  it('does not store a POST response without explicit freshness, and does not cache POST on other routes', async () => {
    const o = script('/post/no-freshness', (_req, res) => res.writeHead(200, { 'last-modified': new Date(0).toUTCString() }).end('x'));
    const elsewhere = script('/post-elsewhere', (_req, res) => res.writeHead(200, { 'cache-control': 'max-age=60' }).end('x'));
    for (let i = 0; i < 2; i++) {
      await get('/post/no-freshness', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
      await get('/post-elsewhere', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    }
    expect([o.hits(), elsewhere.hits()]).toEqual([2, 2]);
  });
});

describe('purging and metrics', () => {
  it('purges by URL, by prefix and with PURGE, and refuses a malformed purge with a message', async () => {
    const paths = ['/purge/a', '/purge/b', '/purge/c'];
    const counters = paths.map((p) => script(p, (_req, res) => res.writeHead(200, { 'cache-control': 'max-age=60' }).end(p)));
    for (const p of paths) await get(p);
    const byUrl = await getJson(`${proxy.admin}/cache/purge`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: `${base}/purge/a` }) });
    expect(byUrl).toMatchObject({ status: 200, body: { purged: 1 } });
    expect((await get('/purge/a')).xcache).toBe('MISS');
    expect((await get('/purge/b')).xcache).toBe('HIT');
    const byPrefix = await getJson(`${proxy.admin}/cache/purge`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"prefix": "/purge/"}' });
    expect(byPrefix.body.purged).toBe(3);
    await get('/purge/c');
    const purge = await getJson(`${proxy.admin}/purge/c`, { method: 'PURGE' });
    expect(purge.body.purged).toBe(1);
    expect(counters.map((c) => c.hits())).toEqual([2, 1, 2]);
    const bad = await getJson(`${proxy.admin}/cache/purge`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"path": "/x"}' });
    expect(bad.status).toBe(400);
    expect(bad.body.detail).toMatch(/unknown field "path"/);
    const notJson = await getJson(`${proxy.admin}/cache/purge`, { method: 'POST', body: 'url=/x' });
    expect(notJson.status).toBe(415);
  });

  it('counts hits, misses, bytes, entries and evictions', async () => {
    const blob = 'z'.repeat(60 * 1024);
    for (let i = 0; i < 20; i++) script(`/evict/${i}`, (_req, res) => res.writeHead(200, { 'cache-control': 'max-age=60' }).end(blob));
    for (let i = 0; i < 20; i++) await get(`/evict/${i}`);
    const text = await (await fetch(`${proxy.admin}/metrics`)).text();
    const value = (re: RegExp) => Number(re.exec(text)?.[1]);
    expect(value(/^portico_cache_evictions_total (\d+)/m)).toBeGreaterThan(0);
    expect(value(/^portico_cache_bytes (\d+)/m)).toBeLessThanOrEqual(1024 * 1024);
    expect(value(/^portico_cache_entries (\d+)/m)).toBeGreaterThan(0);
    expect(value(/^portico_cache_requests_total\{route="cached",status="hit"\} (\d+)/m)).toBeGreaterThan(0);
    expect(value(/^portico_cache_requests_total\{route="cached",status="miss"\} (\d+)/m)).toBeGreaterThan(0);
  });
});

async function waitFor(test: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!test()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await sleep(20);
  }
}
