import { createServer, type RequestListener } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { trackConnections } from './drain.js';

const servers: Array<ReturnType<typeof createServer>> = [];
afterEach(() => { for (const s of servers.splice(0)) s.close(); });

/** A tracked server whose handler is `handler`, with a keep-alive timeout far beyond any wait here (only the drain may close). */
async function tracked(handler: RequestListener) {
  const server = createServer(handler);
  server.keepAliveTimeout = 60_000;
  servers.push(server);
  const drainer = trackConnections(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { drainer, port: (server.address() as AddressInfo).port };
}

/** A raw connection: what it received so far, and when it closed. */
function rawClient(port: number) {
  const socket = connect(port, '127.0.0.1');
  const client = { socket, received: '', closed: new Promise<void>((resolve) => socket.on('close', () => resolve())) };
  socket.on('data', (chunk: Buffer) => { client.received += chunk.toString(); });
  return client;
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('trackConnections: drain', () => {
  it('answers every pipelined request parsed before the drain began, then closes the connection', async () => {
    const server = createServer((req, res) => setTimeout(() => res.end(`ok ${req.url}`), 100));
    servers.push(server);
    const drainer = trackConnections(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk: Buffer) => { received += chunk.toString(); });
    const closed = new Promise((resolve) => socket.on('close', resolve));
    socket.write('GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((r) => setTimeout(r, 30)); // the first is being answered, the second waits behind it
    const drained = drainer.drain();
    await closed;
    await drained;
    expect(received.match(/ok \/\d/g)).toEqual(['ok /1', 'ok /2']);
    // The last answer tells the client the connection ends.
    expect(received.split('HTTP/1.1 200').at(-1)).toMatch(/connection: close/i);
  });

  it('closes an idle keep-alive connection after its grace, and answers a request that arrives within it with Connection: close', async () => {
    const { drainer, port } = await tracked((req, res) => res.end(`ok ${req.url}`));
    const idle = rawClient(port);
    const late = rawClient(port);
    for (const c of [idle, late]) c.socket.write('GET /1 HTTP/1.1\r\nHost: x\r\n\r\n');
    await expect.poll(() => idle.received.includes('ok /1') && late.received.includes('ok /1')).toBe(true);
    const drained = drainer.drain();
    late.socket.write('GET /2 HTTP/1.1\r\nHost: x\r\n\r\n'); // the keep-alive race: sent as the drain begins
    await Promise.all([idle.closed, late.closed, drained]);
    expect(idle.received).not.toMatch(/connection: close/i);
    expect(late.received).toMatch(/ok \/2/);
    expect(late.received.split('HTTP/1.1 200').at(-1)).toMatch(/connection: close/i);
  });

  it('closes a connection whose keep-alive answer was under way at the drain once that answer ends', async () => {
    let finish: () => void = () => {};
    const { drainer, port } = await tracked((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' }); // keep-alive promised before the drain
      res.write('part ');
      finish = () => res.end('done');
    });
    const client = rawClient(port);
    client.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await expect.poll(() => client.received.includes('part')).toBe(true);
    const drained = drainer.drain();
    await tick(400); // past the idle grace: a busy connection is not closed under its answer
    expect(client.socket.destroyed).toBe(false);
    finish();
    const started = performance.now();
    await Promise.all([client.closed, drained]);
    // Closed by the drain after the grace (250 ms), not by the 60 s keep-alive timeout.
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(client.received).toMatch(/done/);
  });
});
