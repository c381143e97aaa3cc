/**
 * Upgrade requests through a real proxy to a real origin: a WebSocket-style
 * echo over the upgraded connection, forwarding headers on the handshake,
 * the connection gauge, and refusals when nothing can take it.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PorticoProcess, runProxy, waitUntil, writeConfig } from './helpers.js';

let proc: PorticoProcess;
let port: number;
let admin: string;
let handshakes: IncomingMessage[] = [];
const echo = createServer((_req, res) => res.end('not an upgrade'));
echo.on('upgrade', (req: IncomingMessage, socket: Socket) => {
  handshakes.push(req);
  socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
  socket.pipe(socket); // echo every byte back
});

beforeAll(async () => {
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  const originUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
  ({ proc, port, admin } = await runProxy(writeConfig(`
listen: { http: "127.0.0.1:0", admin: "127.0.0.1:0" }
pool: { processes: 0 }
client: { websocket_idle_timeout: 500ms }
upstreams:
  live: { servers: [ "${originUrl}" ], health: { path: "" }, max_inflight: 1 }
  nobody: { servers: [], health: { path: "" } }
routes:
  - { path: /ws, upstream: live }
  - { path: /empty, upstream: nobody }
  - { path: /, static: ${process.cwd()}/static }
`)));
});
afterAll(async () => {
  await proc.stop();
  echo.closeAllConnections();
  echo.close();
});

/** Opens an upgraded connection; resolves with the socket and the handshake answer. */
function open(path: string): Promise<{ socket: Socket; answer: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: example.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
    let answer = '';
    const onData = (c: Buffer) => {
      answer += c.toString();
      if (!answer.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      resolve({ socket, answer });
    };
    socket.on('data', onData);
    socket.on('error', reject);
  });
}

const gauge = async () => Number(/^portico_websocket_connections\{route="ws",upstream="live"\} (\d+)/m.exec(await (await fetch(`${admin}/metrics`)).text())?.[1] ?? 0);

describe('WebSockets through the proxy', () => {
  it('upgrades, carries bytes both ways, and counts the open connection', async () => {
    handshakes = [];
    const { socket, answer } = await open('/ws/chat');
    expect(answer).toMatch(/^HTTP\/1\.1 101/);
    const echoed = new Promise<string>((resolve) => socket.once('data', (c) => resolve(c.toString())));
    socket.write('hello through portico');
    expect(await echoed).toBe('hello through portico');
    expect(handshakes[0]?.headers).toMatchObject({ upgrade: 'websocket', 'x-forwarded-for': '127.0.0.1', 'x-forwarded-host': 'example.test' });
    expect(handshakes[0]?.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(await gauge()).toBe(1);
    socket.destroy();
    await waitUntil(async () => (await gauge()) === 0, 2000, 'the gauge to drop');
  });

  it('is not held back by the in-flight cap: several sockets to a server capped at 1', async () => {
    const sockets = await Promise.all([open('/ws/a'), open('/ws/b'), open('/ws/c')]);
    for (const { answer } of sockets) expect(answer).toMatch(/^HTTP\/1\.1 101/);
    for (const { socket } of sockets) socket.destroy();
  });

  it('closes a connection idle past websocket_idle_timeout', async () => {
    const { socket } = await open('/ws/idle');
    const closed = new Promise<number>((resolve) => { const t0 = Date.now(); socket.once('close', () => resolve(Date.now() - t0)); });
    expect(await closed).toBeLessThan(2000);
  });

  it('refuses with 503 when no server is up, and 404 where no upstream route matches', async () => {
    expect((await open('/empty')).answer).toMatch(/^HTTP\/1\.1 503[\s\S]*Retry-After: 1/);
    expect((await open('/index.html')).answer).toMatch(/^HTTP\/1\.1 404/);
  });
});
