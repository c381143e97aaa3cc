/**
 * The whole system as users run it: the master, the proxy and a pool of two
 * backends, over real sockets with the real native core.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, isAlive, portico, type PorticoProcess, waitUntil, writeConfig } from './helpers.js';

interface Status {
  upstreams: Array<{ name: string; servers: Array<{ url: string; up: boolean; local: boolean }> }>;
  processes: Array<{ name: string; state: string; restarts: number; pid?: number }>;
}

const CONFIG = `
listen: { http: "127.0.0.1:0", admin: "127.0.0.1:0" }
pool: { processes: 2, base_port: 0 }
routes:
  - { name: api, path: /api/, upstream: inference }
  - { name: static, path: /, static: ${process.cwd()}/static }
`;

async function startPool(config = CONFIG, detached = false): Promise<{ master: PorticoProcess; http: string; admin: string }> {
  const master = portico(['--config', writeConfig(config)], {}, detached);
  const ready = await master.waitForLog((l) => l.msg === 'portico ready', 20_000);
  const admin = `http://127.0.0.1:${ready.admin as number}`;
  await waitUntil(async () => readyBackends(await status(admin)) === 2, 15_000, 'two ready backends');
  return { master, http: `http://127.0.0.1:${ready.http as number}`, admin };
}

async function status(admin: string): Promise<Status> {
  return (await getJson(`${admin}/status`)).body as Status;
}

function readyBackends(s: Status): number {
  return s.processes.filter((p) => p.name.startsWith('backend') && p.state === 'ready').length;
}

function treePids(s: Status): number[] {
  return s.processes.map((p) => p.pid).filter((pid): pid is number => pid !== undefined);
}

describe('portico master + proxy + pool', () => {
  let master: PorticoProcess;
  let http: string;
  let admin: string;
  beforeAll(async () => ({ master, http, admin } = await startPool()));
  afterAll(async () => master.stop());

  it('answers the inference API through the proxy, from different backends in turn', async () => {
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await getJson(`${http}/api/foo?val=1000`));
    for (const res of answers) {
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ val: 1000, result: expect.any(Number), ms: expect.any(Number), pid: expect.any(Number) });
      expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(new Set(answers.map((r) => r.body.pid)).size).toBe(2);
  });

  it('passes the backend\'s problem+json through for bad input', async () => {
    const res = await getJson(`${http}/api/foo?val=nope`);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.body.detail).toMatch(/not an integer/);
  });

  it('serves the static page, and 404 problem+json for what is not there', async () => {
    const page = await fetch(`${http}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toMatch(/Portico/);
    expect((await getJson(`${http}/nope.txt`)).status).toBe(404);
  });

  it('exposes portico_ metrics and a status of the pool on the admin listener', async () => {
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    expect(metrics).toMatch(/^portico_requests_total\{route="api",upstream="inference",server="http:\/\/127\.0\.0\.1:\d+",code="200",method="GET"\} \d+/m);
    expect(metrics).toMatch(/^portico_upstream_server_up\{upstream="inference",server="[^"]+"\} 1$/m);
    expect(metrics).toMatch(/^portico_supervisor_processes\{state="ready"\} 3$/m);
    const s = await status(admin);
    expect(s.upstreams[0]?.servers.filter((v) => v.local && v.up)).toHaveLength(2);
  });

  it('offers a read-only public status with no addresses or pids in it', async () => {
    const res = await fetch(`${http}/_portico/status`);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const text = await res.text();
    expect(JSON.parse(text)).toMatchObject({ upstreams: [{ name: 'inference', queue: { depth: 0 }, servers: [{ id: 1, up: true }, { id: 2, up: true }] }] });
    expect(text).not.toMatch(/127\.0\.0\.1|pid|url|config/);
  });

  it('runs calls on both backends at once: two concurrent calls overlap in time', async () => {
    // Overlap is shown by state, not by timing (a loaded machine stretches any wall-time ratio):
    // while both calls compute, the proxy has one in flight on each backend at the same moment.
    const val = 100_000; // the dearest call: hundreds of ms, so both are surely seen in flight
    const calls = [0, 1].map(() => getJson(`${http}/api/foo?val=${val}`));
    await waitUntil(async () => {
      const s = await getJson(`${admin}/status`);
      const servers = s.body.upstreams.find((u: { name: string }) => u.name === 'inference').servers as Array<{ inflight: number }>;
      return servers.length === 2 && servers.every((server) => server.inflight === 1);
    }, 10_000, 'one call in flight on each backend at once');
    const all = await Promise.all(calls);
    all.forEach((r) => expect(r.status).toBe(200));
    expect(new Set(all.map((r) => r.body.pid)).size).toBe(2);
  });

  it('restarts a backend killed with SIGKILL, and keeps answering meanwhile', async () => {
    const before = await status(admin);
    const victim = before.processes.find((p) => p.name === 'backend-1')!;
    const failures: number[] = [];
    let answered = 0;
    let loadRunning = true;
    const load = (async () => {
      while (loadRunning) {
        const res = await getJson(`${http}/api/foo?val=100`);
        if (res.status === 200) answered++;
        else failures.push(res.status);
      }
    })();
    await new Promise((r) => setTimeout(r, 200));
    process.kill(victim.pid!, 'SIGKILL');
    await waitUntil(async () => {
      const s = await status(admin);
      const b = s.processes.find((p) => p.name === 'backend-1')!;
      return b.state === 'ready' && b.pid !== victim.pid;
    }, 15_000, 'backend-1 to come back');
    await new Promise((r) => setTimeout(r, 200));
    loadRunning = false;
    await load;
    expect(failures).toEqual([]); // idempotent GETs are retried on the other backend
    expect(answered).toBeGreaterThan(10);
    const after = await status(admin);
    expect(after.processes.find((p) => p.name === 'backend-1')?.restarts).toBe(1);
    expect(readyBackends(after)).toBe(2);
  });
});

describe('a hung backend', () => {
  it('under SIGSTOP: only the calls already on it fail (504), new ones go to the other backend', async () => {
    const { master, http, admin } = await startPool(CONFIG.replace('routes:', `upstreams:
  inference:
    timeouts: { response: "1s" }
    health: { interval: "200ms", timeout: "200ms" }
routes:`));
    try {
      const s = await status(admin);
      const victim = s.processes.find((p) => p.name === 'backend-1')!;
      process.kill(victim.pid!, 'SIGSTOP');
      try {
        const statuses: number[] = [];
        const t0 = performance.now();
        for (let i = 0; i < 12; i++) statuses.push((await getJson(`${http}/api/foo?val=100`)).status);
        // The first calls may land on it before it is known down: they wait out the 1 s timeout, then 504.
        expect(statuses.filter((code) => code !== 200).every((code) => code === 504)).toBe(true);
        expect(statuses.filter((code) => code === 504).length).toBeLessThanOrEqual(2);
        expect(statuses.slice(-8).every((code) => code === 200)).toBe(true);
        expect(performance.now() - t0).toBeLessThan(8000);
        const after = await status(admin);
        expect(after.upstreams[0]!.servers.filter((v) => !v.up)).toHaveLength(1); // the hung one, known down
      } finally {
        process.kill(victim.pid!, 'SIGCONT');
      }
    } finally {
      await master.stop();
    }
  });
});

describe('stopping the tree', () => {
  it('SIGTERM to the master drains and stops every process: no orphans', async () => {
    const { master, admin } = await startPool();
    const pids = treePids(await status(admin));
    expect(pids).toHaveLength(3);
    expect(await master.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
  });

  it('Ctrl-C (SIGINT to the whole process group) stops every process without restarting any', async () => {
    const { master, admin } = await startPool(CONFIG, true);
    const pids = treePids(await status(admin));
    process.kill(-master.child.pid!, 'SIGINT');
    expect(await master.exited).toEqual({ code: 0, signal: null });
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
    expect(master.lines.filter((l) => l.msg === 'exited; restarting')).toEqual([]);
    expect(master.lines.filter((l) => l.msg === 'backend ready')).toHaveLength(2);
  });

  it('SIGKILL of the master still leaves no orphans: children leave when their IPC channel closes', async () => {
    const { master, admin } = await startPool();
    const pids = treePids(await status(admin));
    await master.stop('SIGKILL');
    await waitUntil(() => pids.every((pid) => !isAlive(pid)), 10_000, 'children to exit');
  });

  it('refuses an invalid config at start with the file, line and key', async () => {
    const file = writeConfig('pool:\n  proceses: 2\nroutes: [ { path: /, static: . } ]\n');
    const master = portico(['--config', file]);
    expect((await master.exited).code).toBe(1);
    expect(master.stderr).toContain(`${file}:2:3: pool.proceses: unknown key (did you mean "processes"?)`);
  });
});
