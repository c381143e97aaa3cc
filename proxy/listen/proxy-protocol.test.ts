import { describe, expect, it } from 'vitest';
import { parseProxyHeader } from './proxy-protocol.js';

function v2(family: number, addresses: number[], command = 0x21): Buffer {
  const signature = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
  const body = Buffer.from(addresses);
  const header = Buffer.from([...signature, command, family, 0, 0]);
  header.writeUInt16BE(body.length, 14);
  return Buffer.concat([header, body, Buffer.from('GET / HTTP/1.1\r\n')]);
}

describe('parseProxyHeader', () => {
  it.each([
    ['v1 TCP4', Buffer.from('PROXY TCP4 203.0.113.7 10.0.0.1 51234 443\r\nGET /'), { address: '203.0.113.7', port: 51234 }, 43],
    ['v1 TCP6', Buffer.from('PROXY TCP6 2001:db8::7 2001:db8::1 4000 443\r\n'), { address: '2001:db8::7', port: 4000 }, 45],
    ['v1 UNKNOWN', Buffer.from('PROXY UNKNOWN\r\n'), undefined, 15],
    ['v2 IPv4', v2(0x11, [203, 0, 113, 7, 10, 0, 0, 1, 0xc8, 0x22, 0x01, 0xbb]), { address: '203.0.113.7', port: 51234 }, 28],
    ['v2 IPv6', v2(0x21, [0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 7, ...Array(16).fill(0), 0x0f, 0xa0, 0x01, 0xbb]), { address: '2001:db8::7', port: 4000 }, 52],
    ['v2 LOCAL', v2(0x00, [], 0x20), undefined, 16],
  ])('%s', (_what, data, source, length) => {
    expect(parseProxyHeader(data)).toEqual({ kind: 'ok', source, length });
  });

  it.each([
    Buffer.from('PRO'), Buffer.from('PROXY TCP4 1.2.3.4'), Buffer.from([0x0d, 0x0a, 0x0d]), v2(0x11, [1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2]).subarray(0, 20),
  ])('waits for the rest of a header cut short (%#)', (data) => {
    expect(parseProxyHeader(data).kind).toBe('incomplete');
  });

  it.each([
    ['plain HTTP', 'GET / HTTP/1.1\r\n'], ['a malformed v1 line', 'PROXY TCP4 1.2.3.4\r\n'], ['a bad port', 'PROXY TCP4 1.2.3.4 5.6.7.8 x 443\r\n'], ['an address of the wrong family', 'PROXY TCP4 2001:db8::1 5.6.7.8 1 443\r\n'],
    ['an over-long v1 line', `PROXY TCP4 ${'1'.repeat(120)}`],
  ])('refuses %s', (_what, text) => {
    expect(parseProxyHeader(Buffer.from(text)).kind).toBe('invalid');
  });
});
