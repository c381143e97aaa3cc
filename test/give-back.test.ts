/**
 * Mixed cost without stacking (issue 22), through the real master, proxy and
 * backends: a cheap call that lands in a backend's queue behind a dear one is
 * handed back unstarted and served by the other backend, instead of waiting for
 * the whole dear call; once the proxy has learnt that a target is dear, nothing
 * is sent to queue behind it in the first place. A server that reports nothing
 * keeps today's behaviour.
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

/** A master with two one-slot pool backends, once both are up with the cap their /readyz reports. */
async function startPool(): Promise<{ http: string; admin: string }> {
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
  type Status = { upstreams: Array<{ servers: Array<{ up: boolean; cap: number }> }> };
  await waitUntil(async () => ((await getJson(`${admin}/status`)).body as Status).upstreams[0]!.servers.filter((s) => s.up && s.cap === 3).length === 2, 20_000, 'both backends up with their reported cap');
  return { http, admin };
}

describe('give-back', () => {
  it('a cheap call queued behind a dear one is handed back and served elsewhere; /status and the metrics count it', async () => {
    const { http, admin } = await startPool();
    type Status = { upstreams: Array<{ givenBack: number; servers: Array<{ up: boolean; cap: number; givenBack: number }> }> };
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

  it('once a target is known to be dear, nothing queues behind it at the backend: the cheap calls wait in the proxy and go to the free one', async () => {
    const { http, admin } = await startPool();
    type Server = { up: boolean; cap: number; inflight: number; dear: number; givenBack: number };
    type Status = { upstreams: Array<{ queue: { priority: string; costsLearnt: number }; servers: Server[] }> };
    const status = async () => ((await getJson(`${admin}/status`)).body as Status).upstreams[0]!;
    for (let i = 0; i < 40; i++) await timed(`${http}/api/foo?val=${CHEAP}`);
    await timed(`${http}/api/foo?val=${DEAR}`); // learnt: this target is dear
    expect((await status()).queue).toMatchObject({ priority: 'cost', costsLearnt: 2 });

    const dear = timed(`${http}/api/foo?val=${DEAR}`);
    await waitUntil(async () => (await status()).servers.some((s) => s.dear === 1), 5000, 'the dear call marked on its server');
    const before = await status();
    const dearServer = before.servers.findIndex((s) => s.dear === 1);
    const cheapCalls = Array.from({ length: 6 }, () => timed(`${http}/api/foo?val=${CHEAP}`));
    await new Promise((r) => setTimeout(r, 50));
    const during = await status();
    // Its one slot computes the dear call and its queue takes nothing, however many wait.
    expect(during.servers[dearServer]).toMatchObject({ inflight: 1, dear: 1 });
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    expect(metrics).toMatch(/portico_upstream_server_dear_inflight\{[^}]*\} 1/);
    const cheap = await Promise.all(cheapCalls);
    const dearCall = await dear;
    expect([dearCall, ...cheap].every((c) => c.status === 200)).toBe(true);
    expect(Math.max(...cheap.map((c) => c.ms))).toBeLessThan(dearCall.ms / 2);
    const after = await status();
    expect(after.servers[dearServer]!.givenBack).toBe(before.servers[dearServer]!.givenBack); // nothing was there to hand back
    expect(after.servers.every((s) => s.dear === 0)).toBe(true);
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
