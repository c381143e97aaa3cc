/**
 * A multi-host simulation: real `portico backend` processes on 127.0.0.2,
 * 127.0.0.3 and 127.0.0.4 (the same port, as separate machines would use),
 * found by the proxy through a DNS name served by a test resolver on
 * loopback. Under load, one host is removed from DNS (then stopped) and added
 * back: no request fails.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, portico, type PorticoProcess, runProxy, type RunningProxy, waitUntil, writeConfig } from './helpers.js';

const NAME = 'pool.portico.test';
const HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
let records: string[] = [];
let dns: UdpSocket;
let proxy: RunningProxy;
const backends = new Map<string, PorticoProcess>();
let port = 0;

/** A resolver answering A queries for NAME from `records`, TTL 1 s. */
function startDns(): Promise<UdpSocket> {
  const socket = createSocket('udp4');
  socket.on('message', (query, peer) => {
    let offset = 12;
    const labels: string[] = [];
    while (query[offset]! > 0) {
      labels.push(query.subarray(offset + 1, offset + 1 + query[offset]!).toString());
      offset += query[offset]! + 1;
    }
    const answers = query.readUInt16BE(offset + 1) === 1 && labels.join('.') === NAME ? records : [];
    const header = Buffer.from([query[0]!, query[1]!, 0x81, 0x80, 0, 1, 0, answers.length, 0, 0, 0, 0]);
    const rrs = answers.map((address) => Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, ...address.split('.').map(Number)]));
    socket.send(Buffer.concat([header, query.subarray(12, offset + 5), ...rrs]), peer.port, peer.address);
  });
  return new Promise((resolve) => socket.bind(0, '127.0.0.1', () => resolve(socket)));
}

async function startBackend(host: string): Promise<void> {
  const proc = portico(['backend', '--host', host, '--port', String(port)]);
  backends.set(host, proc);
  await proc.waitForLog((l) => l.msg === 'backend ready');
}

beforeAll(async () => {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, HOSTS[0], r));
  port = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
  await Promise.all(HOSTS.map(startBackend));
  records = [...HOSTS];
  dns = await startDns();
  proxy = await runProxy(writeConfig(`listen: { http: "127.0.0.1:0", admin: "127.0.0.1:0" }
pool: { processes: 0 }
dns: { resolver: "127.0.0.1:${(dns.address() as AddressInfo).port}", min_interval: 200ms }
upstreams:
  inference:
    health: { interval: 500ms }
    servers: [ { dns: ${NAME}, port: ${port}, resolve: true } ]
routes: [ { path: /api/, upstream: inference } ]
`));
}, 30_000);

afterAll(async () => {
  await proxy?.proc.stop();
  await Promise.all([...backends.values()].map((b) => b.stop()));
  dns?.close();
});

describe('several backend hosts found by DNS', () => {
  it('loses no request while a host is removed from DNS, stopped, started again and added back', async () => {
    const http = `http://127.0.0.1:${proxy.port}`;
    const upHosts = async () => ((await getJson(`${proxy.admin}/status`)).body as { upstreams: Array<{ servers: Array<{ url: string; up: boolean }> }> })
      .upstreams[0]!.servers.filter((s) => s.up).map((s) => new URL(s.url).hostname).sort();
    await waitUntil(async () => (await upHosts()).length === 3, 10_000, 'three hosts up');

    const failures: string[] = [];
    const pids = new Set<number>();
    let running = true;
    const load = Promise.all(Array.from({ length: 4 }, async (_, i) => {
      while (running) {
        const res = i % 2
          ? await getJson(`${http}/api/foo?val=200`)
          : await getJson(`${http}/api/foo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"val":200}' });
        if (res.status === 200) pids.add(res.body.pid);
        else failures.push(`${res.status} ${JSON.stringify(res.body)}`);
      }
    }));

    records = [HOSTS[0]!, HOSTS[1]!]; // the third host leaves DNS...
    await waitUntil(async () => (await upHosts()).length === 2, 5000, 'the third host to leave');
    await backends.get(HOSTS[2]!)!.stop(); // ...and is then shut down, as an operator would
    await new Promise((r) => setTimeout(r, 300));
    await startBackend(HOSTS[2]!); // back, and in DNS again
    records = [...HOSTS];
    await waitUntil(async () => (await upHosts()).length === 3, 5000, 'the third host to come back');
    await new Promise((r) => setTimeout(r, 300));
    running = false;
    await load;

    expect(failures).toEqual([]);
    expect(pids.size).toBe(4); // three hosts, one of them restarted
  });
});
