/**
 * The PROXY protocol (v1 text and v2 binary, haproxy.org's proxy-protocol.txt):
 * an L4 load balancer in front of Portico prefixes each connection with the
 * client's real address. On a listener with `proxy_protocol: true` the header
 * is required: a connection without a valid one is closed, as nginx does.
 */
import { createServer, isIP, type Server, type Socket } from 'node:net';

export interface ProxiedAddress {
  address: string;
  port: number;
}

export type HeaderResult =
  | { kind: 'incomplete' }
  | { kind: 'invalid'; reason: string }
  | { kind: 'ok'; source: ProxiedAddress | undefined; length: number };

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_MAX = 107;

/**
 * Parses a PROXY header at the start of `data`. `source` is undefined for
 * LOCAL/UNKNOWN connections (health checks from the balancer itself).
 * @example parseProxyHeader(Buffer.from('PROXY TCP4 203.0.113.7 10.0.0.1 51234 443\r\nGET /')) // { kind: 'ok', source: { address: '203.0.113.7', port: 51234 }, length: 44 }
 */
export function parseProxyHeader(data: Buffer): HeaderResult {
  if (data.length >= 1 && data[0] === 0x0d) return parseV2(data);
  if (data.length < 6) return 'PROXY '.startsWith(data.toString('latin1')) ? { kind: 'incomplete' } : { kind: 'invalid', reason: 'no PROXY header' };
  if (data.toString('latin1', 0, 6) !== 'PROXY ') return { kind: 'invalid', reason: 'no PROXY header' };
  const end = data.indexOf('\r\n');
  if (end < 0) return data.length >= V1_MAX ? { kind: 'invalid', reason: 'PROXY v1 line too long' } : { kind: 'incomplete' };
  const parts = data.toString('latin1', 6, end).split(' ');
  if (parts[0] === 'UNKNOWN') return { kind: 'ok', source: undefined, length: end + 2 };
  const [family, source, , sourcePort] = parts;
  if ((family !== 'TCP4' && family !== 'TCP6') || parts.length !== 5 || !/^\d{1,5}$/.test(sourcePort ?? '') || isIP(source ?? '') !== (family === 'TCP4' ? 4 : 6)) {
    return { kind: 'invalid', reason: 'malformed PROXY v1 line' };
  }
  return { kind: 'ok', source: { address: source!, port: Number(sourcePort) }, length: end + 2 };
}

function parseV2(data: Buffer): HeaderResult {
  if (data.length < 16) return V2_SIGNATURE.subarray(0, data.length).equals(data.subarray(0, Math.min(data.length, 12))) ? { kind: 'incomplete' } : { kind: 'invalid', reason: 'no PROXY header' };
  if (!data.subarray(0, 12).equals(V2_SIGNATURE)) return { kind: 'invalid', reason: 'bad PROXY v2 signature' };
  const versionCommand = data[12]!;
  if (versionCommand >> 4 !== 2) return { kind: 'invalid', reason: 'unsupported PROXY version' };
  const length = 16 + data.readUInt16BE(14);
  if (data.length < length) return { kind: 'incomplete' };
  if ((versionCommand & 0x0f) === 0) return { kind: 'ok', source: undefined, length }; // LOCAL
  const family = data[13]! >> 4;
  if (family === 1 && length >= 16 + 12) {
    const address = [...data.subarray(16, 20)].join('.');
    return { kind: 'ok', source: { address, port: data.readUInt16BE(24) }, length };
  }
  if (family === 2 && length >= 16 + 36) {
    const groups = Array.from({ length: 8 }, (_, i) => data.readUInt16BE(16 + i * 2).toString(16));
    return { kind: 'ok', source: { address: compressIpv6(groups), port: data.readUInt16BE(48) }, length };
  }
  return { kind: 'ok', source: undefined, length }; // UNSPEC or unix: no address to use
}

function compressIpv6(groups: string[]): string {
  const text = groups.join(':');
  const runs = [...text.matchAll(/(^|:)(0(:0)+)(:|$)/g)].sort((a, b) => b[2]!.length - a[2]!.length);
  if (runs.length === 0) return text;
  const run = runs[0]!;
  return `${text.slice(0, run.index)}::${text.slice(run.index! + run[0].length)}`;
}

/** Source addresses of live connections, keyed by the balancer-side peer (address:port), which TLS sockets share with their raw socket. */
const proxied = new Map<string, ProxiedAddress>();

/** The client a PROXY header named for this connection, if any. */
export function proxiedAddressOf(socket: { remoteAddress?: string; remotePort?: number }): ProxiedAddress | undefined {
  if (proxied.size === 0) return undefined; // no PROXY-protocol connection open: no key to build per request
  return proxied.get(`${socket.remoteAddress}:${socket.remotePort}`);
}

/**
 * A TCP front for `server` that reads and strips each connection's PROXY
 * header before handing the connection over. Headers must arrive within `timeoutMs`.
 */
export function proxyProtocolFront(server: Server, onInvalid: (reason: string) => void, timeoutMs = 5000): Server {
  return createServer((socket: Socket) => {
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => { onInvalid('PROXY header timeout'); socket.destroy(); }, timeoutMs);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const result = parseProxyHeader(buffered);
      if (result.kind === 'incomplete') return;
      clearTimeout(timer);
      socket.off('data', onData);
      if (result.kind === 'invalid') {
        onInvalid(result.reason);
        socket.destroy();
        return;
      }
      socket.pause();
      if (result.source) {
        const key = `${socket.remoteAddress}:${socket.remotePort}`;
        proxied.set(key, result.source);
        socket.once('close', () => proxied.delete(key));
      }
      const rest = buffered.subarray(result.length);
      if (rest.length > 0) socket.unshift(rest);
      server.emit('connection', socket);
      socket.resume();
    };
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
  });
}
