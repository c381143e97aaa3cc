/**
 * Mixed cost without stacking (issue 22), through the real master, proxy and
 * backends: a cheap call that lands in a backend's queue behind a dear one is
 * handed back unstarted and served by the other backend, instead of waiting for
 * the whole dear call. A server that reports nothing keeps today's behaviour.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { getJson, origin, portico, type PorticoProcess, startProxy, waitUntil, writeConfig } from './helpers.js';

const running: PorticoProcess[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop()));
});

const DEAR = 100_000;
const CHEAP = 1000;

async function timed(url: string): Promise<{ ms: number; status: number; pid: number }> {
  const started = performance.now();
  const res = await fetch(url);
  const body = (await res.json()) as { pid: number };
  return { ms: performance.now() - started, status: res.status, pid: body.pid };
}

describe('give-back', () => {
  it('a cheap call queued behind a dear one is handed back and served elsewhere; /status and the metrics count it', async () => {
    const file = writeConfig(`listen: { http: "127.0.0.1:0", admin: "127.0.0.1:0" }
access_log: false
pool: { processes: 2, base_port: 0, slots: 1 }
routes: [ { path: /api/, upstream: inference } ]
`);
    const master = portico(['--config', file]);
    running.push(master);
    const ready = await master.waitForLog((l) => l.msg === 'portico ready', 20_000);
    const http = `http://127.0.0.1:${ready.http as number}`;
    const admin = `http://127.0.0.1:${ready.admin as number}`;
    type Status = { upstreams: Array<{ givenBack: number; servers: Array<{ up: boolean; cap: number; givenBack: number }> }> };
    await waitUntil(async () => ((await getJson(`${admin}/status`)).body as Status).upstreams[0]!.servers.filter((s) => s.up && s.cap === 3).length === 2, 20_000, 'both backends up with their reported cap');
    // Each backend learns its usual call time.
    for (let i = 0; i < 40; i++) await timed(`${http}/api/foo?val=${CHEAP}`);

    // One dear call, then cheap ones: with a cap of 3 per backend (1 slot, queue 6), some land behind the dear call.
    const dear = timed(`${http}/api/foo?val=${DEAR}`);
    await new Promise((r) => setTimeout(r, 20));
    const cheap = await Promise.all(Array.from({ length: 6 }, () => timed(`${http}/api/foo?val=${CHEAP}`)));
    const dearCall = await dear;
    expect(dearCall.status).toBe(200);
    expect(cheap.every((c) => c.status === 200)).toBe(true);
    // No cheap call waited for the dear one (it ran alone on its backend: hundreds of ms).
    expect(Math.max(...cheap.map((c) => c.ms))).toBeLessThan(dearCall.ms / 2);

    const status = (await getJson(`${admin}/status`)).body as Status;
    expect(status.upstreams[0]!.givenBack).toBeGreaterThanOrEqual(1);
    const metrics = await (await fetch(`${admin}/metrics/all`)).text();
    expect(metrics).toMatch(/portico_upstream_given_back_total\{[^}]*\} [1-9]/);
    expect(metrics).toMatch(/portico_backend_given_back_total\{[^}]*\} [1-9]/);
    expect(metrics).not.toMatch(/portico_upstream_retries_total\{[^}]*\} [1-9]/);
  }, 60_000);

  it('a server that reports no slots is never offered a give-back', async () => {
    const seen: Array<string | undefined> = [];
    const o = await origin('plain', (req, res) => {
      seen.push(req.headers['portico-give-back'] as string | undefined);
      res.end('ok');
    });
    try {
      const proxy = await startProxy([o.url]);
      running.push(proxy.proc);
      for (let i = 0; i < 3; i++) expect((await fetch(`${proxy.http}/x`)).status).toBe(200);
      expect(seen).toEqual([undefined, undefined, undefined]);
    } finally {
      o.server.close();
    }
  }, 30_000);
});
