/**
 * Upstream servers found by DNS, against a small DNS server this test runs on
 * loopback: addresses added to the name get traffic, addresses removed stop
 * getting it, and a DNS failure keeps the last answer.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, runProxy, type RunningProxy, waitUntil, writeConfig } from './helpers.js';

const NAME = 'backends.portico.test';
let records: string[] = [];
let answering = true;
let dns: UdpSocket;
const origins: Server[] = [];
let proxy: RunningProxy;
let http: string;

/** Answers A queries for NAME from `records` (TTL 1 s); AAAA and other names get no answers. */
function dnsServer(): Promise<UdpSocket> {
  const socket = createSocket('udp4');
  socket.on('message', (query, peer) => {
    if (!answering) return;
    let offset = 12;
    const labels: string[] = [];
    while (query[offset]! > 0) {
      labels.push(query.subarray(offset + 1, offset + 1 + query[offset]!).toString());
      offset += query[offset]! + 1;
    }
    const questionEnd = offset + 5;
    const type = query.readUInt16BE(offset + 1);
    const answers = type === 1 && labels.join('.').toLowerCase() === NAME ? records : [];
    const header = Buffer.alloc(12);
    query.copy(header, 0, 0, 2); // id
    header.writeUInt16BE(answers.length > 0 || labels.join('.').toLowerCase() === NAME ? 0x8180 : 0x8183, 2); // NOERROR or NXDOMAIN
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    const records_ = answers.map((address) => {
      const rr = Buffer.alloc(16);
      rr.writeUInt16BE(0xc00c, 0); // the name, by pointer to the question
      rr.writeUInt16BE(1, 2); // A
      rr.writeUInt16BE(1, 4); // IN
      rr.writeUInt32BE(1, 6); // TTL 1 s
      rr.writeUInt16BE(4, 10);
      address.split('.').forEach((octet, i) => rr.writeUInt8(Number(octet), 12 + i));
      return rr;
    });
    socket.send(Buffer.concat([header, query.subarray(12, questionEnd), ...records_]), peer.port, peer.address);
  });
  return new Promise((resolve) => socket.bind(0, '127.0.0.1', () => resolve(socket)));
}

/** The same port on two loopback addresses, each answering with its own name. */
async function twoOrigins(): Promise<number> {
  const make = (name: string) => createServer((req, res) => res.end(req.url === '/readyz' ? '{}' : JSON.stringify({ name })));
  const a = make('a');
  await new Promise<void>((r) => a.listen(0, '127.0.0.2', r));
  const port = (a.address() as AddressInfo).port;
  const b = make('b');
  await new Promise<void>((r) => b.listen(port, '127.0.0.3', r));
  origins.push(a, b);
  return port;
}

beforeAll(async () => {
  dns = await dnsServer();
  const port = await twoOrigins();
  records = ['127.0.0.2'];
  proxy = await runProxy(writeConfig(`listen: { http: "127.0.0.1:0", admin: "127.0.0.1:0" }
pool: { processes: 0 }
dns: { resolver: "127.0.0.1:${(dns.address() as AddressInfo).port}", min_interval: 200ms }
upstreams:
  app:
    policy: round-robin
    health: { path: /readyz, interval: 500ms }
    servers: [ { dns: ${NAME}, port: ${port}, resolve: true } ]
routes: [ { path: /, upstream: app } ]
`));
  http = `http://127.0.0.1:${proxy.port}`;
});
afterAll(async () => {
  await proxy.proc.stop();
  dns.close();
  for (const o of origins) o.close();
});

async function names(n: number): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const res = await getJson(`${http}/`);
    seen.add(res.status === 200 ? res.body.name : `status ${res.status}`);
  }
  return seen;
}

describe('servers found by DNS', () => {
  it('sends traffic to the addresses the name resolves to', async () => {
    await waitUntil(async () => (await names(1)).has('a'), 5000, 'the first address to serve');
    expect(await names(6)).toEqual(new Set(['a']));
  });

  it('adds an address that appears, at its next lookup', async () => {
    records = ['127.0.0.2', '127.0.0.3'];
    // Looked up again within max(TTL, min_interval) plus two passing checks: well inside 10 s even on a loaded machine.
    await waitUntil(async () => (await names(4)).has('b'), 10_000, 'the new address to serve');
  });

  it('keeps the last answer when the DNS server stops answering', async () => {
    answering = false;
    await proxy.proc.waitForLog((l) => l.msg === 'DNS lookup failed; keeping the last answer', 8000);
    expect(await names(6)).toEqual(new Set(['a', 'b']));
    answering = true;
  });

  it('stops sending to an address that disappears', async () => {
    records = ['127.0.0.3'];
    await waitUntil(async () => {
      const status = (await getJson(`${proxy.admin}/status`)).body as { upstreams: Array<{ servers: Array<{ url: string }> }> };
      return status.upstreams[0]!.servers.length === 1;
    }, 5000, 'the address to go');
    expect(await names(6)).toEqual(new Set(['b']));
  });
});
