/**
 * The supervised pool changes while it serves: `pool.processes` edited in the
 * file grows and shrinks it, and POST /pool/restart replaces every backend one
 * at a time, with zero failed requests under load.
 */
import { writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { getJson, isAlive, portico, type PorticoProcess, waitUntil, writeConfig } from './helpers.js';

interface Status {
  processes: Array<{ name: string; state: string; pid?: number }>;
  upstreams: Array<{ servers: Array<{ url: string; up: boolean }> }>;
}

const config = (processes: number) => `listen: { http: "127.0.0.1:0", admin: "127.0.0.1:0" }
pool: { processes: ${processes}, base_port: 0 }
routes:
  - { name: api, path: /api/, upstream: inference }
`;

const running: PorticoProcess[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop()));
});

async function start(processes: number) {
  const file = writeConfig(config(processes));
  const master = portico(['--config', file]);
  running.push(master);
  const ready = await master.waitForLog((l) => l.msg === 'portico ready', 20_000);
  const admin = `http://127.0.0.1:${ready.admin as number}`;
  const http = `http://127.0.0.1:${ready.http as number}`;
  const status = async () => (await getJson(`${admin}/status`)).body as Status;
  const upCount = async () => (await status()).upstreams[0]!.servers.filter((s) => s.up).length;
  await waitUntil(async () => (await upCount()) === processes, 15_000, `${processes} backends up`);
  return { file, master, admin, http, status, upCount };
}

/** GET and POST calls in a loop until stopped; every answer that is not 200 is a failure. */
function load(http: string) {
  const failures: string[] = [];
  const pids = new Set<number>();
  let ok = 0;
  let running = true;
  const loops = Array.from({ length: 4 }, async (_, i) => {
    while (running) {
      const res = i % 2 === 0
        ? await getJson(`${http}/api/foo?val=500`)
        : await getJson(`${http}/api/foo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"val":500}' });
      if (res.status === 200) {
        ok++;
        pids.add(res.body.pid);
      } else failures.push(`${res.status} ${JSON.stringify(res.body)}`);
    }
  });
  return { failures, pids, ok: () => ok, stop: async () => { running = false; await Promise.all(loops); } };
}

describe('pool changes while serving', () => {
  it('grows and shrinks with pool.processes in the file, without a failed request', async () => {
    const { file, upCount, status, http } = await start(1);
    const traffic = load(http);
    writeFileSync(file, config(2));
    await waitUntil(async () => (await upCount()) === 2, 10_000, 'a second backend');
    const second = (await status()).processes.find((p) => p.name === 'backend-2')!;
    writeFileSync(file, config(1));
    await waitUntil(async () => (await status()).processes.length === 2, 10_000, 'back to one backend');
    await traffic.stop();
    expect(traffic.failures).toEqual([]);
    expect(traffic.pids.size).toBe(2);
    await waitUntil(() => !isAlive(second.pid!), 5000, 'the removed backend to exit');
  });

  it('replaces every backend one at a time on POST /pool/restart, with zero failed requests', async () => {
    const { admin, status, http, upCount } = await start(2);
    const before = (await status()).processes.filter((p) => p.name.startsWith('backend')).map((p) => p.pid);
    const traffic = load(http);
    await new Promise((r) => setTimeout(r, 300));
    const res = await getJson(`${admin}/pool/restart`, { method: 'POST' });
    expect(res.status).toBe(202);
    await waitUntil(async () => {
      const now = (await status()).processes.filter((p) => p.name.startsWith('backend'));
      return now.every((p) => p.state === 'ready' && !before.includes(p.pid));
    }, 20_000, 'both backends replaced');
    await new Promise((r) => setTimeout(r, 300));
    await traffic.stop();
    expect(traffic.failures).toEqual([]);
    expect(traffic.ok()).toBeGreaterThan(20);
    expect(await upCount()).toBe(2);
    for (const pid of before) expect(isAlive(pid!)).toBe(false);
  });

  it('answers 409 to a pool restart when no master supervises a pool', async () => {
    const proxy = portico(['proxy', '--config', writeConfig(config(0))]);
    running.push(proxy);
    const ready = await proxy.waitForLog((l) => l.msg === 'proxy listening');
    const res = await fetch(`http://127.0.0.1:${(ready.admin as { port: number }).port}/pool/restart`, { method: 'POST' });
    expect(res.status).toBe(409);
  });
});
