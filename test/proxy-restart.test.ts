/**
 * The master holds the listening sockets (issue 21): the proxy can die or be
 * replaced under load and no connection is refused. kill -9 loses only the
 * requests in flight on the dead process; POST /proxy/restart and SIGUSR2 lose
 * nothing; `proxy.workers` runs several proxies on the same sockets.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../bench/tools.js';
import { failedCount, startLoad, type Tally } from './chaos-load.js';
import { getJson, isAlive, origin, portico, type PorticoProcess, waitUntil, writeConfig } from './helpers.js';

interface Status {
  processes: Array<{ name: string; state: string; pid?: number; restarts: number }>;
}

const CLIENTS = 16;

const running: PorticoProcess[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop()));
});

async function start(extra = '', token?: string) {
  const file = writeConfig(`listen: { http: "127.0.0.1:0", admin: "127.0.0.1:0" }
access_log: false
pool: { processes: 2, base_port: 0, slots: 1 }
${extra}
routes:
  - { path: /api/, upstream: inference }
${extra.includes('slow:') ? '  - { path: /slow/, upstream: slow }\n' : ''}`);
  const master = portico(['--config', file]);
  running.push(master);
  const ready = await master.waitForLog((l) => l.msg === 'portico ready', 20_000);
  const http = `http://127.0.0.1:${ready.http as number}`;
  const admin = `http://127.0.0.1:${ready.admin as number}`;
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const status = async () => (await getJson(`${admin}/status`, { headers })).body as Status;
  // While a proxy is killed, a kept-alive admin connection to it is reset: ask again.
  const proxies = async () => {
    for (;;) {
      try {
        return (await status()).processes.filter((p) => p.name.startsWith('proxy'));
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  await waitUntil(async () => { const p = (await proxies()); return p.every((x) => x.state === 'ready') && (await status()).processes.filter((x) => x.state === 'ready').length === 2 + p.length; }, 20_000, 'everything ready');
  return { master, http, admin, status, proxies, file };
}

/** Connection errors other than the resets of requests in flight: a refused connection means the port was closed. */
const refused = (tally: Tally) => (tally.failed.GET.ECONNREFUSED ?? 0) + (tally.failed.POST.ECONNREFUSED ?? 0);
const loadOf = (http: string) => startLoad(http, { getClients: CLIENTS - 4, postClients: 4, val: 1000 });

describe('listeners held by the master', () => {
  it(`kill -9 of the proxy 3 times under ${CLIENTS} connections: none refused, only requests in flight lost`, async () => {
    const { admin, http, proxies } = await start();
    const load = loadOf(http);
    for (let kill = 0; kill < 3; kill++) {
      await new Promise((r) => setTimeout(r, 700));
      const before = (await proxies())[0]!;
      process.kill(before.pid!, 'SIGKILL');
      // The admin listener is held too: /status answers as soon as the new proxy runs.
      await waitUntil(async () => { const p = (await proxies())[0]!; return p.state === 'ready' && p.pid !== before.pid; }, 15_000, 'the proxy back');
    }
    await new Promise((r) => setTimeout(r, 500));
    const tally = await load.stop();
    expect(refused(tally)).toBe(0);
    // Each client has at most one request in flight: the kills can take no more than that.
    expect(failedCount(tally)).toBeLessThanOrEqual(3 * CLIENTS);
    expect(Object.keys({ ...tally.failed.GET, ...tally.failed.POST }).every((code) => /^(ECONNRESET|socket hang up)$/.test(code))).toBe(true);
    expect(tally.ok).toBeGreaterThan(100);
    expect((await getJson(`${admin}/status`)).status).toBe(200);
  }, 90_000);

  it('POST /proxy/restart 3 times and SIGUSR2 once under load: no error, no non-2xx, a new proxy each time, backends untouched', async () => {
    const { master, admin, http, proxies, status } = await start();
    const backends = async () => (await status()).processes.filter((p) => p.name.startsWith('backend')).map((p) => p.pid);
    const backendPids = await backends();
    const seen = new Set([(await proxies())[0]!.pid]);
    const load = loadOf(http);
    for (let restart = 0; restart < 4; restart++) {
      await new Promise((r) => setTimeout(r, 700));
      if (restart < 3) {
        const res = await fetch(`${admin}/proxy/restart`, { method: 'POST' });
        expect(res.status).toBe(202);
        await res.arrayBuffer();
      } else {
        master.child.kill('SIGUSR2');
      }
      await waitUntil(async () => { const now = await proxies(); return now.length === 1 && now[0]!.state === 'ready' && !seen.has(now[0]!.pid); }, 15_000, 'the new proxy');
      seen.add((await proxies())[0]!.pid);
    }
    await new Promise((r) => setTimeout(r, 500));
    const tally = await load.stop();
    expect(tally.failed).toEqual({ GET: {}, POST: {} });
    expect(tally.ok).toBeGreaterThan(100);
    expect(await backends()).toEqual(backendPids);
    // The replaced proxies drained and exited.
    await waitUntil(() => [...seen].slice(0, -1).every((pid) => !isAlive(pid!)), 10_000, 'the old proxies gone');
  }, 90_000);

  it('a restart needs the admin token when one is set, and a proxy without a master says it cannot restart', async () => {
    const token = 'a-token-of-sixteen-chars';
    const { admin } = await start(`admin_token: ${token}`, token);
    expect((await fetch(`${admin}/proxy/restart`, { method: 'POST' })).status).toBe(401);
    expect((await fetch(`${admin}/proxy/restart`, { method: 'GET', headers: { authorization: `Bearer ${token}` } })).status).toBe(405);

    const file = writeConfig('listen: { http: "127.0.0.1:0", admin: "127.0.0.1:0" }\npool: { processes: 0 }\nroutes: [ { path: /, static: "." } ]\n');
    const alone = portico(['proxy', '--config', file]);
    running.push(alone);
    const line = await alone.waitForLog((l) => l.msg === 'proxy listening');
    const res = await getJson(`http://127.0.0.1:${(line.admin as { port: number }).port}/proxy/restart`, { method: 'POST' });
    expect(res.status).toBe(409);
    expect(String((res.body as { detail: string }).detail)).toMatch(/no master holds/);
  }, 60_000);
});

/** Whether this process can bind host:port now (nothing holds it). */
function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

describe('listeners held by the master, through reloads', () => {
  it('a reload moves listen.http: the master binds the new port, serves it, and lets the old one go once drained', async () => {
    const { file, http, admin } = await start();
    const oldPort = Number(new URL(http).port);
    const newPort = await freePort();
    writeFileSync(file, readFileSync(file, 'utf8').replace('http: "127.0.0.1:0"', `http: "127.0.0.1:${newPort}"`));
    const reloaded = await getJson(`${admin}/reload`, { method: 'POST' });
    expect(reloaded.status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${newPort}/api/foo?val=10`)).status).toBe(200);
    // Neither the proxy nor the master keeps the old socket: another program can take the port.
    await waitUntil(() => bindable(oldPort), 10_000, 'the old port released');
  }, 60_000);

  it('a reload to a port another program holds is refused with the address and the reason; the old listener keeps serving', async () => {
    const { file, http, admin } = await start();
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    try {
      const port = (taken.address() as { port: number }).port;
      writeFileSync(file, readFileSync(file, 'utf8').replace('http: "127.0.0.1:0"', `http: "127.0.0.1:${port}"`));
      const refusedReload = await getJson(`${admin}/reload`, { method: 'POST' });
      expect(refusedReload.status).toBe(422);
      expect(String((refusedReload.body as { detail: string }).detail)).toContain(`cannot listen on 127.0.0.1:${port} (listen.http): the address is already in use (EADDRINUSE)`);
      expect((await fetch(`${http}/api/foo?val=10`)).status).toBe(200);
    } finally {
      taken.close();
    }
  }, 60_000);
});

describe('sockets given back (review of issue 21)', () => {
  it('a listener moved by a reload stops taking connections at once, while its requests still drain', async () => {
    const slow = await origin('slow', (_req, res) => setTimeout(() => res.end('late'), 1500));
    try {
      const { file, http, admin } = await start(`upstreams:\n  slow: { servers: ["${slow.url}"] }`);
      const oldPort = Number(new URL(http).port);
      const inFlight = fetch(`${http}/slow/x`).then((r) => r.text());
      await new Promise((r) => setTimeout(r, 200));
      writeFileSync(file, readFileSync(file, 'utf8').replace('http: "127.0.0.1:0"', `http: "127.0.0.1:${await freePort()}"`));
      expect((await getJson(`${admin}/reload`, { method: 'POST' })).status).toBe(200);
      // Refused (the port is free again) well before the slow request ends: nobody keeps it open unanswered.
      await waitUntil(() => bindable(oldPort), 1000, 'the old port released before the drain ends');
      expect(await inFlight).toBe('late');
    } finally {
      slow.server.close();
    }
  }, 60_000);

  it('a killed proxy gives back what only it held: an admin address moved by reload is freed when the new proxy takes the new one', async () => {
    const { file, admin, proxies } = await start();
    const oldAdmin = Number(new URL(admin).port);
    const newAdmin = await freePort();
    writeFileSync(file, readFileSync(file, 'utf8').replace('admin: "127.0.0.1:0"', `admin: "127.0.0.1:${newAdmin}"`));
    expect((await getJson(`${admin}/reload`, { method: 'POST' })).status).toBe(200);
    const before = (await proxies())[0]!;
    process.kill(before.pid!, 'SIGKILL');
    await waitUntil(async () => { try { return (await fetch(`http://127.0.0.1:${newAdmin}/healthz`)).status === 200; } catch { return false; } }, 15_000, 'the new proxy on the new admin address');
    await waitUntil(() => bindable(oldAdmin), 5000, 'the old admin address released');
  }, 60_000);

  it('POST /reload taken by one worker while another restarts does not crash the starting one', async () => {
    const { admin, proxies } = await start('proxy: { workers: 2 }');
    const victim = (await proxies())[1]!;
    process.kill(victim.pid!, 'SIGKILL');
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline) {
      await getJson(`${admin}/reload`, { method: 'POST' }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 20));
    }
    await waitUntil(async () => (await proxies()).every((p) => p.state === 'ready'), 15_000, 'both workers ready');
    // One restart for the kill, none for the reloads.
    expect((await proxies()).find((p) => p.name === victim.name)!.restarts).toBe(1);
  }, 60_000);

  it('SIGTERM during a restart stops everything: no proxy outlives the master', async () => {
    const { master, proxies } = await start('proxy: { workers: 2 }');
    const pids = new Set((await proxies()).map((p) => p.pid!));
    master.child.kill('SIGUSR2');
    await master.waitForLog((l) => l.msg === 'proxy restart: starting new proxies on the same sockets');
    await new Promise((r) => setTimeout(r, 300));
    for (const line of master.lines) if (typeof line.pid === 'number' && line.component === 'proxy') pids.add(line.pid);
    const { code } = await master.stop();
    expect(code).toBe(0);
    for (const line of master.lines) if (typeof line.pid === 'number' && line.component === 'proxy') pids.add(line.pid);
    await waitUntil(() => [...pids].every((pid) => !isAlive(pid)), 10_000, 'every proxy gone');
    expect(master.lines.filter((l) => l.component === 'proxy' && l.msg === 'proxy listening' && master.lines.indexOf(l) > master.lines.findIndex((x) => x.msg === 'stopped'))).toEqual([]);
  }, 60_000);
});

describe('proxy.workers', () => {
  const promtool = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).stdout.trim();

  it('2 workers: /metrics has every worker\'s samples under a worker label, and passes promtool', async () => {
    const { admin, http } = await start('proxy: { workers: 2 }');
    for (let i = 0; i < 20; i++) await (await fetch(`${http}/api/foo?val=10`)).arrayBuffer();
    const text = await (await fetch(`${admin}/metrics`)).text();
    // Every worker's registry is there (a gauge each sets at start; requests may all have gone to one worker's connection).
    expect(text).toMatch(/portico_config_last_reload_success\{worker="1"\} 1/);
    expect(text).toMatch(/portico_config_last_reload_success\{worker="2"\} 1/);
    expect(text).toMatch(/portico_requests_total\{[^}]*worker="[12]"/);
    expect(text.match(/^# TYPE portico_requests_total /gm)).toHaveLength(1);
    if (promtool) {
      const lint = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
      expect(lint.status, lint.stdout + lint.stderr).toBe(0);
    }
  }, 60_000);

  it('2 workers share the sockets: both serve, a killed one is restarted while the other serves, caps are divided', async () => {
    const { http, admin, proxies } = await start('proxy: { workers: 2 }');
    const workers = await proxies();
    expect(workers.map((w) => w.name).sort()).toEqual(['proxy-1', 'proxy-2']);
    // Each worker holds half of each backend's auto cap (slots 1 + 1 = 2 → 1 each).
    const caps = new Set<number>();
    for (let i = 0; i < 20 && caps.size === 0; i++) {
      const body = (await getJson(`${admin}/status`)).body as { workers?: Array<{ upstreams: Array<{ servers: Array<{ cap: number }> }> }> };
      for (const w of body.workers ?? []) for (const s of w.upstreams[0]!.servers) caps.add(s.cap);
    }
    expect([...caps]).toEqual([1]);

    const load = loadOf(http);
    await new Promise((r) => setTimeout(r, 700));
    process.kill(workers[0]!.pid!, 'SIGKILL');
    await waitUntil(async () => (await proxies()).every((p) => p.state === 'ready' && p.pid !== workers[0]!.pid), 15_000, 'the worker back');
    await new Promise((r) => setTimeout(r, 500));
    const tally = await load.stop();
    expect(refused(tally)).toBe(0);
    expect(failedCount(tally)).toBeLessThanOrEqual(CLIENTS);
    expect(tally.ok).toBeGreaterThan(100);
  }, 90_000);
});
