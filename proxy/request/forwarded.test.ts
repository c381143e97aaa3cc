import { describe, expect, it } from 'vitest';
import { clientView, TrustedProxies } from './forwarded.js';

const trusted = new TrustedProxies(['10.0.0.0/8', '192.168.1.1', 'fd00::/8']);
const conn = (remoteAddress: string, encrypted = false) => ({ remoteAddress, localPort: 8080, encrypted });

describe('clientView: forwarding headers', () => {
  it.each([
    // [what, peer, incoming headers, expected client, expected X-Forwarded-For]
    ['a direct client', '203.0.113.7', {}, '203.0.113.7', '203.0.113.7'],
    ['an untrusted peer lying about the chain', '203.0.113.7', { 'x-forwarded-for': '1.2.3.4' }, '203.0.113.7', '203.0.113.7'],
    ['a trusted proxy in front', '10.0.0.2', { 'x-forwarded-for': '198.51.100.9' }, '198.51.100.9', '198.51.100.9, 10.0.0.2'],
    ['a chain of trusted proxies', '10.0.0.2', { 'x-forwarded-for': '198.51.100.9, 192.168.1.1, 10.9.9.9' }, '198.51.100.9', '198.51.100.9, 192.168.1.1, 10.9.9.9, 10.0.0.2'],
    ['a spoofed entry left of the real client', '10.0.0.2', { 'x-forwarded-for': '6.6.6.6, 198.51.100.9' }, '198.51.100.9', '6.6.6.6, 198.51.100.9, 10.0.0.2'],
    ['only trusted hops', '10.0.0.2', { 'x-forwarded-for': '10.1.1.1' }, '10.1.1.1', '10.1.1.1, 10.0.0.2'],
    ['an invalid entry stops the walk', '10.0.0.2', { 'x-forwarded-for': '198.51.100.9, garbage, 10.1.1.1' }, '10.1.1.1', '198.51.100.9, garbage, 10.1.1.1, 10.0.0.2'],
    ['IPv4-mapped IPv6 peers', '::ffff:10.0.0.2', { 'x-forwarded-for': '198.51.100.9' }, '198.51.100.9', '198.51.100.9, 10.0.0.2'],
    ['an IPv6 client behind a trusted IPv6 proxy', 'fd00::5', { 'x-forwarded-for': '2001:db8::1' }, '2001:db8::1', '2001:db8::1, fd00::5'],
    ['repeated X-Forwarded-For headers', '10.0.0.2', { 'x-forwarded-for': ['198.51.100.9', '10.3.3.3'] }, '198.51.100.9', '198.51.100.9, 10.3.3.3, 10.0.0.2'],
  ])('%s', (_what, peer, headers, client, xff) => {
    const view = clientView(headers, conn(peer), trusted);
    expect(view.client).toBe(client);
    expect(view.upstreamHeaders['x-real-ip']).toBe(client);
    expect(view.upstreamHeaders['x-forwarded-for']).toBe(xff);
  });

  it('sets proto, host and port from the connection, or keeps a trusted proxy\'s', () => {
    const direct = clientView({ host: 'example.com', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil' }, conn('203.0.113.7', true), trusted);
    expect(direct.upstreamHeaders).toMatchObject({ 'x-forwarded-proto': 'https', 'x-forwarded-host': 'example.com', 'x-forwarded-port': '8080' });
    const spoof = clientView({ host: 'example.com', 'x-forwarded-proto': 'https' }, conn('203.0.113.7'), trusted);
    expect(spoof.upstreamHeaders['x-forwarded-proto']).toBe('http');
    const behind = clientView({ host: 'internal', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'example.com', 'x-forwarded-port': '443' }, conn('10.0.0.2'), trusted);
    expect(behind.upstreamHeaders).toMatchObject({ 'x-forwarded-proto': 'https', 'x-forwarded-host': 'example.com', 'x-forwarded-port': '443' });
  });

  it('writes RFC 7239 Forwarded, appending to a trusted proxy\'s and quoting IPv6', () => {
    expect(clientView({ host: 'example.com' }, conn('203.0.113.7'), trusted).upstreamHeaders.forwarded).toBe('for=203.0.113.7;host=example.com;proto=http');
    expect(clientView({ host: 'a', forwarded: 'for=1.1.1.1' }, conn('2001:db8::7', true), trusted).upstreamHeaders.forwarded).toBe('for="[2001:db8::7]";host=a;proto=https');
    expect(clientView({ host: 'a', forwarded: 'for=198.51.100.9;proto=https' }, conn('10.0.0.2'), trusted).upstreamHeaders.forwarded).toBe('for=198.51.100.9;proto=https, for=10.0.0.2;host=a;proto=http');
    expect(clientView({ host: 'ex ample' }, conn('203.0.113.7'), trusted).upstreamHeaders.forwarded).toBe('for=203.0.113.7;host="ex ample";proto=http');
  });

  it('trusts nobody with an empty list', () => {
    const none = new TrustedProxies([]);
    expect(clientView({ 'x-forwarded-for': '1.2.3.4' }, conn('10.0.0.2'), none).client).toBe('10.0.0.2');
  });
});

describe('clientView: request ids', () => {
  it('keeps a valid X-Request-Id from a trusted hop', () => {
    expect(clientView({ 'x-request-id': 'abc-123' }, conn('10.0.0.2'), trusted).requestId).toBe('abc-123');
  });

  it.each([
    ['from an untrusted client', '203.0.113.7', 'abc-123'],
    ['that is too long', '10.0.0.2', 'a'.repeat(201)],
    ['with characters that could forge log lines', '10.0.0.2', 'a"b\\nc'],
  ])('replaces one %s with a fresh UUID', (_what, peer, id) => {
    expect(clientView({ 'x-request-id': id }, conn(peer), trusted).requestId).toMatch(/^[0-9a-f-]{36}$/);
  });
});
