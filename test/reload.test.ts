/**
 * Live configuration: edit the YAML while a load runs. Servers added get
 * traffic within 2 s, removed ones drain without a failed request, 100 reloads
 * cost nothing, an invalid file leaves the running config serving, and an open
 * WebSocket survives. Reloads by file change, SIGHUP and POST /reload.
 */
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { getJson, portico, runProxy, type RunningProxy, waitUntil, writeConfig } from './helpers.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An origin that names itself, answers /readyz, echoes upgrades, and counts the requests it served. */
async function backend(name: string, delayMs = 0) {
  let served = 0;
  const server: Server = createServer((req, res) => {
    if (req.url === '/readyz') return void res.end('{"slots":4,"queueSize":4}');
    served++;
    setTimeout(() => res.end(JSON.stringify({ name })), delayMs);
  });
  server.on('upgrade', (_req: IncomingMessage, socket: Socket) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    socket.pipe(socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => { server.closeAllConnections(); server.close(r); }));
  return { name, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, served: () => served };
}

const yaml = (servers: string[], extra = '') => `listen: { http: "127.0.0.1:0", admin: "127.0.0.1:0" }
pool: { processes: 0 }
${extra}
upstreams:
  app:
    health: { path: /readyz, interval: 1s, rise: 2 }
    servers: [ ${servers.map((s) => `"${s}"`).join(', ')} ]
routes:
  - { path: /, upstream: app }
`;

async function start(servers: string[], extra = ''): Promise<RunningProxy & { file: string; http: string }> {
  const file = writeConfig(yaml(servers, extra));
  const proxy = await runProxy(file);
  cleanups.push(() => proxy.proc.stop());
  return { ...proxy, file, http: `http://127.0.0.1:${proxy.port}` };
}

/** GETs in a loop from `clients` clients until stopped; counts answers by backend name and failures. */
function load(http: string, clients = 4) {
  const names: string[] = [];
  const failures: string[] = [];
  let running = true;
  const loops = Array.from({ length: clients }, async () => {
    while (running) {
      try {
        const res = await getJson(`${http}/x`);
        if (res.status === 200) names.push(res.body.name);
        else failures.push(`${res.status} ${JSON.stringify(res.body)}`);
      } catch (err) {
        failures.push(String(err));
      }
    }
  });
  return { names, failures, stop: async () => { running = false; await Promise.all(loops); } };
}

const reloadVia = (admin: string) => fetch(`${admin}/reload`, { method: 'POST' });

describe('live configuration', () => {
  it('gives a server added to the file traffic within 2 s, while a load runs, without a failure', async () => {
    const a = await backend('a');
    const b = await backend('b');
    const { file, http, proc } = await start([a.url]);
    const traffic = load(http);
    await new Promise((r) => setTimeout(r, 300));
    const edited = Date.now();
    writeFileSync(file, yaml([a.url, b.url]));
    await waitUntil(() => traffic.names.includes('b'), 4000, 'traffic to b');
    const after = Date.now() - edited;
    await traffic.stop();
    expect(after).toBeLessThan(2000);
    expect(traffic.failures).toEqual([]);
    expect((await proc.waitForLog((l) => l.msg === 'config reloaded')).source).toBe('file change');
  });

  it('drains a removed server: no new requests to it, none failed', async () => {
    const a = await backend('a', 50);
    const b = await backend('b', 50);
    const { file, http, admin } = await start([a.url, b.url]);
    const traffic = load(http, 6);
    await waitUntil(() => traffic.names.includes('b') && traffic.names.includes('a'), 3000, 'both serving');
    writeFileSync(file, yaml([a.url]));
    expect((await reloadVia(admin)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 200)); // requests already on b finish
    const servedByB = b.served();
    await new Promise((r) => setTimeout(r, 500));
    await traffic.stop();
    expect(b.served()).toBe(servedByB);
    expect(traffic.failures).toEqual([]);
    const status = (await getJson(`${admin}/status`)).body as { upstreams: Array<{ servers: Array<{ url: string }> }> };
    expect(status.upstreams[0]!.servers.map((s) => s.url)).toEqual([a.url]);
  });

  it('takes 100 reloads under load with zero failed requests', async () => {
    const a = await backend('a', 5);
    const b = await backend('b', 5);
    const { http, admin } = await start([a.url, b.url]);
    const traffic = load(http);
    for (let i = 0; i < 100; i++) expect((await reloadVia(admin)).status).toBe(200);
    await traffic.stop();
    expect(traffic.failures).toEqual([]);
    expect(traffic.names.length).toBeGreaterThan(50);
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    expect(metrics).toMatch(/^portico_config_reloads_total\{result="success"\} 10\d$/m);
  });

  it('keeps serving the old config when the new file is invalid, says where, and sets the metric to 0', async () => {
    const a = await backend('a');
    const { file, http, admin, proc } = await start([a.url]);
    writeFileSync(file, yaml([a.url]).replace('health:', 'helth:'));
    const refused = await getJson(`${admin}/reload`, { method: 'POST' });
    expect(refused.status).toBe(422);
    expect(refused.body.detail).toMatch(/portico\.yaml:\d+:\d+: upstreams\.app\.helth: unknown key \(did you mean "health"\?\)/);
    expect((await getJson(`${http}/x`)).body.name).toBe('a');
    const metric = async () => /^portico_config_last_reload_success (\d)$/m.exec(await (await fetch(`${admin}/metrics`)).text())?.[1];
    expect(await metric()).toBe('0');
    await proc.waitForLog((l) => l.msg === 'config reload failed; keeping the running config');
    writeFileSync(file, yaml([a.url]));
    await waitUntil(async () => (await metric()) === '1', 4000, 'the fixed file to load');
  });

  it('reloads on SIGHUP', async () => {
    const a = await backend('a');
    const { proc } = await start([a.url]);
    proc.child.kill('SIGHUP');
    expect((await proc.waitForLog((l) => l.msg === 'config reloaded')).source).toBe('SIGHUP');
  });

  it('keeps an open WebSocket across 10 reloads', async () => {
    const a = await backend('a');
    const { port, admin } = await start([a.url]);
    const socket = connect(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.write('GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    await new Promise((r) => socket.once('data', r));
    for (let i = 0; i < 10; i++) expect((await reloadVia(admin)).status).toBe(200);
    const echoed = new Promise<string>((r) => socket.once('data', (c) => r(c.toString())));
    socket.write('still here');
    expect(await echoed).toBe('still here');
    socket.destroy();
  });

  it('asks for the admin token on POST /reload when one is set', async () => {
    const a = await backend('a');
    const { admin } = await start([a.url], 'admin_token: "0123456789abcdef-token"');
    expect((await reloadVia(admin)).status).toBe(401);
    const ok = await fetch(`${admin}/reload`, { method: 'POST', headers: { authorization: 'Bearer 0123456789abcdef-token' } });
    expect(ok.status).toBe(200);
    expect((await fetch(`${admin}/reload`, { headers: { authorization: 'Bearer 0123456789abcdef-token' } })).status).toBe(405);
  });

  it('with a token, guards every admin endpoint but the probes; the token may come from a file', async () => {
    const a = await backend('a');
    const tokenFile = writeConfig('  a-token-read-from-a-file-0123\n');
    const { admin } = await start([a.url], `admin_token_file: ${tokenFile}`);
    for (const path of ['/metrics', '/metrics/all', '/status', '/targets']) {
      const refused = await fetch(`${admin}${path}`);
      expect([path, refused.status, refused.headers.get('www-authenticate')]).toEqual([path, 401, 'Bearer realm="portico-admin"']);
      expect((await fetch(`${admin}${path}`, { headers: { authorization: 'Bearer a-token-read-from-a-file-0123' } })).status).toBe(200);
    }
    expect((await fetch(`${admin}/x`, { method: 'PURGE' })).status).toBe(401);
    for (const probe of ['/healthz', '/readyz']) expect((await fetch(`${admin}${probe}`)).status).toBe(200);
    const wrong = await fetch(`${admin}/status`, { headers: { authorization: 'Bearer a-token-read-from-a-file-0124' } });
    expect(wrong.status).toBe(401);
  });

  it('refuses an admin listener beyond loopback without a token', async () => {
    const check = portico(['check-config', writeConfig('listen: { admin: "0.0.0.0:9901" }\nroutes: [ { path: /, upstream: inference } ]\n')]);
    expect((await check.exited).code).toBe(1);
    expect(check.stderr).toMatch(/listen\.admin: the admin listener is reachable beyond loopback: set admin_token/);
  });
});

describe('listeners and certificates change on reload', () => {
  it('moves the HTTP listener to a new port; a WebSocket on the old one stays open', async () => {
    const a = await backend('a');
    const { file, port: oldPort, admin, http } = await start([a.url]);
    const socket = connect(oldPort, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.write('GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    await new Promise((r) => socket.once('data', r));

    const free = createServer();
    await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
    const newPort = (free.address() as AddressInfo).port;
    await new Promise((r) => free.close(r));
    writeFileSync(file, yaml([a.url]).replace('http: "127.0.0.1:0"', `http: "127.0.0.1:${newPort}"`));
    expect((await reloadVia(admin)).status).toBe(200);

    expect((await getJson(`http://127.0.0.1:${newPort}/x`)).body.name).toBe('a');
    await expect(fetch(`${http}/x`)).rejects.toThrow(); // the old port no longer accepts
    const echoed = new Promise<string>((r) => socket.once('data', (c) => r(c.toString())));
    socket.write('still open');
    expect(await echoed).toBe('still open');
    socket.destroy();
  });

  it('refuses a reload whose new listener cannot be bound, and keeps serving', async () => {
    const a = await backend('a');
    const { file, admin, http } = await start([a.url]);
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => taken.close(r)));
    writeFileSync(file, yaml([a.url]).replace('http: "127.0.0.1:0"', `http: "127.0.0.1:${(taken.address() as AddressInfo).port}"`));
    const refused = await getJson(`${admin}/reload`, { method: 'POST' });
    expect(refused.status).toBe(422);
    expect(refused.body.detail).toMatch(/EADDRINUSE/);
    expect((await getJson(`${http}/x`)).body.name).toBe('a');
  });
});
