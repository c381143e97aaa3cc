/**
 * The inference backend as a real process over real sockets with the real native core.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, portico, type PorticoProcess } from './helpers.js';

/** The largest val: several hundred ms of CPU on this class of machine. */
const SLOW_VAL = 100_000;

async function startBackend(args: string[]): Promise<{ proc: PorticoProcess; url: string }> {
  const proc = portico(['backend', '--port', '0', ...args]);
  const ready = await proc.waitForLog((l) => l.msg === 'backend ready');
  return { proc, url: `http://127.0.0.1:${ready.port as number}` };
}

describe('backend API', () => {
  let proc: PorticoProcess;
  let url: string;
  beforeAll(async () => ({ proc, url } = await startBackend(['--slots', '2', '--queue', '2'])));
  afterAll(async () => proc.stop());

  it('GET /api/foo?val=N answers the contract JSON', async () => {
    const res = await getJson(`${url}/api/foo?val=1000`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.body).toEqual({ val: 1000, result: expect.any(Number), ms: expect.any(Number), pid: proc.child.pid });
    expect(res.body.result).toBeGreaterThan(0);
  });

  it('POST /api/foo {"val": N} gives the same result as GET', async () => {
    const [get, post] = await Promise.all([
      getJson(`${url}/api/foo?val=123`),
      getJson(`${url}/api/foo`, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8' }, body: '{"val":123}' }),
    ]);
    expect(post.status).toBe(200);
    expect(post.body.result).toBe(get.body.result);
  });

  it('marks results cacheable (results are pure functions of val) and errors not', async () => {
    expect((await getJson(`${url}/api/foo?val=10`)).headers.get('cache-control')).toBe('public, max-age=3600');
    expect((await getJson(`${url}/api/foo?val=-1`)).headers.get('cache-control')).toBe('no-store');
  });

  it('foo(0) is 0', async () => {
    expect((await getJson(`${url}/api/foo?val=0`)).body.result).toBe(0);
  });

  it.each([
    ['GET', '/api/foo', undefined, undefined, 400, /"val" is missing/],
    ['GET', '/api/foo?val=abc', undefined, undefined, 400, /not an integer from 0 to 100000/],
    ['GET', '/api/foo?val=1.5', undefined, undefined, 400, /not an integer/],
    ['GET', '/api/foo?val=-1', undefined, undefined, 400, /out of range/],
    ['GET', '/api/foo?val=100001', undefined, undefined, 400, /out of range/],
    ['GET', '/api/foo?val=1&val=2', undefined, undefined, 400, /more than once/],
    ['POST', '/api/foo', 'application/json', '{"val":', 400, /not valid JSON/],
    ['POST', '/api/foo', 'application/json', '{"val":"7"}', 400, /JSON number/],
    ['POST', '/api/foo', 'application/json', '[7]', 400, /JSON object/],
    ['POST', '/api/foo', 'text/plain', '{"val":7}', 415, /Content-Type: application\/json/],
    ['POST', '/api/foo', undefined, '{"val":7}', 415, /Content-Type/],
    ['POST', '/api/foo', 'application/json', `{"val":7,"pad":"${'x'.repeat(2000)}"}`, 413, /larger than 1024 bytes/],
    ['DELETE', '/api/foo', undefined, undefined, 405, /use GET/],
    ['GET', '/nope', undefined, undefined, 404, /no such endpoint/],
  ])('%s %s (%s %s) → %d problem+json', async (method, path, type, body, status, detail) => {
    const headers: Record<string, string> = type ? { 'content-type': type } : {};
    const res = await getJson(`${url}${path}`, { method, headers, body });
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.body).toMatchObject({ status, title: expect.any(String), detail: expect.stringMatching(detail) });
  });

  it('/healthz, /readyz (with slots) and /metrics answer', async () => {
    expect((await getJson(`${url}/healthz`)).body).toMatchObject({ status: 'ok' });
    const ready = await getJson(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ready', slots: 2, queueSize: 2, core: expect.stringMatching(/^\d+\.\d+\.\d+$/) });
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^portico_native_call_duration_seconds_count\{op="foo"\} [1-9]/m);
    expect(metrics).toMatch(/^portico_backend_requests_total\{route="foo",method="GET",code="400"\} [1-9]/m);
    expect(metrics).toMatch(/^portico_backend_slots 2$/m);
    expect(metrics).not.toMatch(/^nodejs_active_handles_total/m);
  });
});

describe('backend under load', () => {
  it('keeps its event loop answering while every slot is busy, and sheds past its queue with 503 + Retry-After', async () => {
    const { proc, url } = await startBackend(['--slots', '1', '--queue', '1']);
    try {
      const slow = [fetch(`${url}/api/foo?val=${SLOW_VAL}`), fetch(`${url}/api/foo?val=${SLOW_VAL}`)];
      await new Promise((r) => setTimeout(r, 100)); // both admitted: one computing, one queued
      const shed = await getJson(`${url}/api/foo?val=1`);
      expect(shed.status).toBe(503);
      expect(shed.headers.get('retry-after')).toBe('1');
      expect(shed.body.detail).toMatch(/busy/);

      // While the slot computes, health checks still answer promptly (a blocked loop would wait for the call).
      const latencies: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        expect((await fetch(`${url}/healthz`)).status).toBe(200);
        latencies.push(performance.now() - t0);
        await new Promise((r) => setTimeout(r, 50));
      }
      const results = await Promise.all(slow.map(async (r) => (await r).json() as Promise<{ ms: number }>));
      const callMs = Math.min(...results.map((r) => r.ms));
      // The margin holds on a loaded 2-core machine: a blocked loop would take about a whole call.
      expect(Math.max(...latencies)).toBeLessThan(Math.max(150, callMs / 2));
    } finally {
      await proc.stop();
    }
  });

  it('drains on SIGTERM: refuses new work, finishes the call in flight, then exits 0', async () => {
    const { proc, url } = await startBackend(['--slots', '1', '--queue', '0']);
    const inFlight = fetch(`${url}/api/foo?val=${SLOW_VAL}`);
    await new Promise((r) => setTimeout(r, 100));
    proc.child.kill('SIGTERM');
    await proc.waitForLog((l) => l.msg === 'draining');
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(await proc.exited).toEqual({ code: 0, signal: null });
  });

  it('refuses bad flags with a clear message', async () => {
    const proc = portico(['backend', '--slots', 'many']);
    expect((await proc.exited).code).toBe(2);
    expect(proc.stderr).toMatch(/--slots must be an integer from 1 to 256, got "many"/);
  });
});

describe('backend cache marking', () => {
  it('--cache-max-age 0 marks results no-store', async () => {
    const { proc, url } = await startBackend(['--cache-max-age', '0']);
    try {
      expect((await getJson(`${url}/api/foo?val=10`)).headers.get('cache-control')).toBe('no-store');
    } finally {
      await proc.stop();
    }
  });
});
