/**
 * Static files through a real proxy and real HTTP clients: types, conditional
 * and range requests, precompressed variants, and every way out of the root
 * we know of (sent over a raw socket, since HTTP clients normalise paths).
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, brotliCompressSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PorticoProcess, runProxy, writeConfig } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'portico-static-'));
const root = join(dir, 'www');
const js = 'console.log("portico");\n'.repeat(40);
const bin = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 256));
let proc: PorticoProcess;
let base: string;
let port: number;

beforeAll(async () => {
  mkdirSync(join(root, 'sub'), { recursive: true });
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>home</title>');
  writeFileSync(join(root, 'sub/index.html'), '<!doctype html><title>sub</title>');
  writeFileSync(join(root, 'app.js'), js);
  writeFileSync(join(root, 'app.js.gz'), gzipSync(js));
  writeFileSync(join(root, 'app.js.br'), brotliCompressSync(js));
  writeFileSync(join(root, 'data.bin'), bin);
  writeFileSync(join(root, 'paper.pdf'), '%PDF-1.4');
  writeFileSync(join(root, 'photo.avif'), bin);
  writeFileSync(join(root, '.secret'), 'hidden');
  writeFileSync(join(dir, 'outside.txt'), 'outside the root');
  symlinkSync(join(dir, 'outside.txt'), join(root, 'escape.txt'));
  symlinkSync(join(root, 'data.bin'), join(root, 'alias.bin'));
  ({ proc, port } = await runProxy(writeConfig(`listen: { http: "127.0.0.1:0", admin: "127.0.0.1:0" }\npool: { processes: 0 }\nroutes:\n  - { path: /, static: ${root}, cache_control: [ { match: "*.js", value: "public, max-age=31536000, immutable" }, { match: "/sub/", value: "max-age=60" } ] }\n  - { path: /assets/, static: ${root}/sub }\n`)));
  base = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  await proc.stop();
  rmSync(dir, { recursive: true, force: true });
});

function rawStatus(path: string): Promise<number> {
  return new Promise((resolve) => {
    let answer = '';
    const socket = connect(port, '127.0.0.1', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    socket.on('data', (c) => { answer += c.toString(); });
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0)));
  });
}

describe('static files', () => {
  it('serves index files and the right content types, and strips the route prefix', async () => {
    const home = await fetch(`${base}/`);
    expect(home.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await home.text()).toMatch(/home/);
    expect(await (await fetch(`${base}/sub/`)).text()).toMatch(/sub/);
    expect(await (await fetch(`${base}/assets/`)).text()).toMatch(/sub/);
    const redirect = await fetch(`${base}/sub`, { redirect: 'manual' });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get('location')).toBe('/sub/');
    expect((await fetch(`${base}/data.bin`)).headers.get('content-type')).toBe('application/octet-stream');
    // From mime-db, not a short table of our own.
    expect((await fetch(`${base}/paper.pdf`)).headers.get('content-type')).toBe('application/pdf');
    expect((await fetch(`${base}/photo.avif`)).headers.get('content-type')).toBe('image/avif');
  });

  it('answers 304 to If-None-Match and If-Modified-Since', async () => {
    const first = await fetch(`${base}/index.html`);
    const etag = first.headers.get('etag')!;
    expect((await fetch(`${base}/index.html`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    expect((await fetch(`${base}/index.html`, { headers: { 'if-modified-since': first.headers.get('last-modified')! } })).status).toBe(304);
    expect((await fetch(`${base}/index.html`, { headers: { 'if-none-match': '"other"' } })).status).toBe(200);
  });

  it('answers byte ranges with 206, refuses impossible ones with 416, and honours If-Range', async () => {
    const part = await fetch(`${base}/data.bin`, { headers: { range: 'bytes=10-19' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe('bytes 10-19/1000');
    expect(Buffer.from(await part.arrayBuffer())).toEqual(bin.subarray(10, 20));
    const tail = await fetch(`${base}/data.bin`, { headers: { range: 'bytes=-5' } });
    expect(Buffer.from(await tail.arrayBuffer())).toEqual(bin.subarray(995));
    const none = await fetch(`${base}/data.bin`, { headers: { range: 'bytes=2000-' } });
    expect(none.status).toBe(416);
    expect(none.headers.get('content-range')).toBe('bytes */1000');
    const stale = await fetch(`${base}/data.bin`, { headers: { range: 'bytes=0-9', 'if-range': '"stale"' } });
    expect(stale.status).toBe(200);
    const etag = stale.headers.get('etag')!;
    expect((await fetch(`${base}/data.bin`, { headers: { range: 'bytes=0-9', 'if-range': etag } })).status).toBe(206);
  });

  it('serves a precompressed variant the client accepts, with Vary, and the plain file otherwise', async () => {
    const br = await fetch(`${base}/app.js`, { headers: { 'accept-encoding': 'gzip, br' } });
    expect(br.headers.get('content-encoding')).toBe('br');
    expect(br.headers.get('vary')).toBe('Accept-Encoding');
    expect(await br.text()).toBe(js); // fetch decodes it
    const gz = await fetch(`${base}/app.js`, { headers: { 'accept-encoding': 'gzip, br;q=0' } });
    expect(gz.headers.get('content-encoding')).toBe('gzip');
    expect(await gz.text()).toBe(js);
    const plain = await fetch(`${base}/app.js`, { headers: { 'accept-encoding': 'identity' } });
    expect(plain.headers.get('content-encoding')).toBeNull();
    expect(plain.headers.get('etag')).not.toBe(br.headers.get('etag'));
  });

  it('sets Cache-Control by path rules, first match first, and revalidation by default', async () => {
    expect((await fetch(`${base}/app.js`)).headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect((await fetch(`${base}/sub/`)).headers.get('cache-control')).toBe('max-age=60');
    expect((await fetch(`${base}/data.bin`)).headers.get('cache-control')).toBe('no-cache');
  });

  it('answers HEAD without a body and refuses other methods with 405', async () => {
    const head = await fetch(`${base}/data.bin`, { method: 'HEAD' });
    expect(head.headers.get('content-length')).toBe('1000');
    const post = await fetch(`${base}/data.bin`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it.each([
    ['/../outside.txt', 404], ['/%2e%2e/outside.txt', 404], ['/%2E%2E%2Foutside.txt', 404], ['/sub/..%2f..%2foutside.txt', 404],
    ['/.secret', 404], ['/%2esecret', 404], ['/escape.txt', 404], ['/index.html%00.png', 400], ['/%zz', 400],
  ])('keeps %s inside the root (%d)', async (path, status) => {
    expect(await rawStatus(path)).toBe(status);
  });

  it('follows a symlink that stays inside the root', async () => {
    expect(Buffer.from(await (await fetch(`${base}/alias.bin`)).arrayBuffer())).toEqual(bin);
  });
});
