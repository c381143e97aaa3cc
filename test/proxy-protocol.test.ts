/**
 * A listener behind an L4 load balancer that speaks the PROXY protocol: the
 * client address from the header (v1 or v2) is the one the upstream is told
 * about; a connection without a valid header is closed and counted.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { origin, runProxy, type RunningProxy, writeConfig } from './helpers.js';

let proxy: RunningProxy;
let closeOrigin: () => void;

beforeAll(async () => {
  const o = await origin('o', (req, res) => res.end(JSON.stringify(req.headers)));
  closeOrigin = () => o.server.close();
  proxy = await runProxy(writeConfig(`listen: { http: { address: "127.0.0.1:0", proxy_protocol: true }, admin: "127.0.0.1:0" }
pool: { processes: 0 }
upstreams: { app: { servers: [ "${o.url}" ], health: { path: "" } } }
routes: [ { path: /, upstream: app } ]
`));
});
afterAll(async () => {
  await proxy.proc.stop();
  closeOrigin();
});

function send(bytes: Buffer): Promise<string> {
  return new Promise((resolve) => {
    let answer = '';
    const socket = connect(proxy.port, '127.0.0.1', () => socket.write(bytes));
    socket.on('data', (c) => { answer += c.toString(); });
    socket.on('close', () => resolve(answer));
    socket.on('error', () => resolve(answer));
  });
}

const request = 'GET / HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n';
const headersOf = (answer: string) => JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as Record<string, string>;

describe('PROXY protocol listener', () => {
  it('takes the client address from a v1 header', async () => {
    const headers = headersOf(await send(Buffer.from(`PROXY TCP4 203.0.113.7 127.0.0.1 51234 80\r\n${request}`)));
    expect(headers).toMatchObject({ 'x-forwarded-for': '203.0.113.7', 'x-real-ip': '203.0.113.7' });
  });

  it('takes the client address from a v2 header', async () => {
    const header = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x21, 0x11, 0x00, 0x0c, 198, 51, 100, 9, 127, 0, 0, 1, 0xc8, 0x22, 0x00, 0x50]);
    const headers = headersOf(await send(Buffer.concat([header, Buffer.from(request)])));
    expect(headers['x-forwarded-for']).toBe('198.51.100.9');
  });

  it('closes a connection that does not start with a PROXY header, and counts it', async () => {
    expect(await send(Buffer.from(request))).toBe('');
    const metrics = await (await fetch(`${proxy.admin}/metrics`)).text();
    expect(metrics).toMatch(/^portico_rejected_requests_total\{reason="proxy_protocol"\} [1-9]/m);
  });
});
