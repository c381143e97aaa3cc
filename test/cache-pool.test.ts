/**
 * The route cache in front of the real supervised pool: the backends mark
 * results cacheable (pool.cache_max_age), so a route with `cache` answers
 * repeated calls without computing again, for GET and, opted in, for POST.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, portico, type PorticoProcess, writeConfig } from './helpers.js';

let master: PorticoProcess;
let http: string;

beforeAll(async () => {
  master = portico(['--config', writeConfig(`
listen: { http: "127.0.0.1:0", admin: "127.0.0.1:0" }
pool: { processes: 1, base_port: 0, cache_max_age: 10m }
access_log: false
routes:
  - { path: /api/, upstream: inference, cache: { post: true } }
`)]);
  const ready = await master.waitForLog((l) => l.msg === 'portico ready', 20_000);
  http = `http://127.0.0.1:${ready.http as number}`;
  // The backend is ready once a call succeeds.
  for (let i = 0; i < 100 && (await fetch(`${http}/api/foo?val=1`)).status !== 200; i++) await new Promise((r) => setTimeout(r, 100));
}, 30_000);

afterAll(async () => master?.stop());

describe('caching inference results', () => {
  it('answers a repeated GET from the cache with the computed result', async () => {
    const first = await getJson(`${http}/api/foo?val=30000`);
    const second = await getJson(`${http}/api/foo?val=30000`);
    expect([first.status, first.headers.get('x-cache'), first.headers.get('cache-control')]).toEqual([200, 'MISS', 'public, max-age=600']);
    expect([second.status, second.headers.get('x-cache')]).toEqual([200, 'HIT']);
    expect(second.body).toEqual(first.body); // the same ms and pid: not computed again
  });

  it('answers a repeated POST with an equivalent JSON body from the cache', async () => {
    const post = (body: string) => getJson(`${http}/api/foo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const first = await post('{"val": 20000}');
    const second = await post('{ "val":20000 }');
    expect([first.headers.get('x-cache'), second.headers.get('x-cache')]).toEqual(['MISS', 'HIT']);
    expect(second.body).toEqual(first.body);
  });

  it('does not store errors', async () => {
    const first = await getJson(`${http}/api/foo?val=-5`);
    const second = await getJson(`${http}/api/foo?val=-5`);
    expect([first.status, second.status, second.headers.get('x-cache')]).toEqual([400, 400, 'MISS']);
  });
});
