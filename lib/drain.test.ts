import { createServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { trackConnections } from './drain.js';

const servers: Array<ReturnType<typeof createServer>> = [];
afterEach(() => { for (const s of servers.splice(0)) s.close(); });

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
});
