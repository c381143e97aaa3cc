/**
 * Who the client is, and what the upstream is told about it: X-Forwarded-For,
 * -Proto, -Host, -Port, X-Real-IP, RFC 7239 Forwarded, and X-Request-Id.
 * A client's own forwarding headers and request id are believed only when the
 * connection comes from a trusted proxy; the real client is found by walking
 * X-Forwarded-For from the right past trusted hops (nginx's real_ip_recursive,
 * Envoy's xff_num_trusted_hops).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { BlockList, isIP } from 'node:net';
import { newRequestId } from './request-id.js';

/** CIDRs whose connections may speak for someone else. */
export class TrustedProxies {
  private readonly list = new BlockList();
  readonly empty: boolean;

  /** @example new TrustedProxies(['10.0.0.0/8', '::1/128']) */
  constructor(cidrs: readonly string[]) {
    for (const cidr of cidrs) {
      const [address, prefix] = cidr.split('/') as [string, string | undefined];
      const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
      this.list.addSubnet(address, prefix === undefined ? (family === 'ipv6' ? 128 : 32) : Number(prefix), family);
    }
    this.empty = cidrs.length === 0;
  }

  has(address: string): boolean {
    if (this.empty) return false;
    const family = isIP(address);
    return family !== 0 && this.list.check(address, family === 6 ? 'ipv6' : 'ipv4');
  }
}

export interface Connection {
  /** The peer address of the TCP connection. */
  remoteAddress: string;
  /** The port the client connected to. */
  localPort: number;
  encrypted: boolean;
}

export interface ClientView {
  /** The real client's address. */
  client: string;
  requestId: string;
  /** The connection comes from a trusted proxy, whose forwarding headers, request id and trace context are believed. */
  readonly fromTrusted: boolean;
  /** Headers to set on the upstream request (replacing the client's), X-Request-Id included; built once, on first use. */
  readonly upstreamHeaders: Record<string, string>;
}

const REQUEST_ID = /^[A-Za-z0-9._:@+=-]{1,200}$/;

/** A class rather than an object literal with a getter: one shape for every request, and cheaper to make. */
class View implements ClientView {
  private headersForUpstream: Record<string, string> | undefined;

  constructor(
    readonly client: string,
    readonly requestId: string,
    private readonly headers: IncomingHttpHeaders,
    private readonly conn: Connection,
    private readonly peer: string,
    readonly fromTrusted: boolean,
    private readonly incomingXff: string | undefined,
  ) {}

  // Built on first use: a request answered from the cache never needs them.
  get upstreamHeaders(): Record<string, string> {
    this.headersForUpstream ??= forwardingHeaders(this.headers, this.conn, this.peer, this.fromTrusted, this.incomingXff, this.client, this.requestId);
    return this.headersForUpstream;
  }
}

/**
 * @example clientView({ 'x-forwarded-for': '203.0.113.7' }, { remoteAddress: '10.0.0.2', localPort: 8080, encrypted: false }, trusted)
 */
export function clientView(headers: IncomingHttpHeaders, conn: Connection, trusted: TrustedProxies): ClientView {
  const peer = normalise(conn.remoteAddress);
  const fromTrusted = trusted.has(peer);
  const incomingXff = fromTrusted ? joined(headers['x-forwarded-for']) : undefined;
  const client = incomingXff ? realClient([...incomingXff.split(',').map((a) => normalise(a.trim())), peer], trusted) : peer;
  const incomingId = fromTrusted ? first(headers['x-request-id']) : undefined;
  const requestId = incomingId && REQUEST_ID.test(incomingId) ? incomingId : newRequestId();
  return new View(client, requestId, headers, conn, peer, fromTrusted, incomingXff);
}

function forwardingHeaders(headers: IncomingHttpHeaders, conn: Connection, peer: string, fromTrusted: boolean, incomingXff: string | undefined, client: string, requestId: string): Record<string, string> {
  const proto = (fromTrusted && first(headers['x-forwarded-proto'])) || (conn.encrypted ? 'https' : 'http');
  const host = (fromTrusted && first(headers['x-forwarded-host'])) || headers.host || '';
  const port = (fromTrusted && first(headers['x-forwarded-port'])) || String(conn.localPort);
  const element = [`for=${forwardedNode(peer)}`, host ? `host=${quoteIfNeeded(host)}` : '', `proto=${conn.encrypted ? 'https' : 'http'}`].filter(Boolean).join(';');
  const incomingForwarded = fromTrusted ? joined(headers.forwarded) : undefined;
  return {
    'x-forwarded-for': incomingXff ? `${incomingXff}, ${peer}` : peer,
    'x-forwarded-proto': proto,
    'x-forwarded-host': host,
    'x-forwarded-port': port,
    'x-real-ip': client,
    forwarded: incomingForwarded ? `${incomingForwarded}, ${element}` : element,
    'x-request-id': requestId,
  };
}

/** From the right: skip trusted hops; the first untrusted address is the client. An invalid entry stops the walk. */
function realClient(chain: string[], trusted: TrustedProxies): string {
  let client = chain[chain.length - 1]!;
  for (let i = chain.length - 1; i >= 0; i--) {
    const address = chain[i]!;
    if (isIP(address) === 0) break;
    client = address;
    if (!trusted.has(address)) break;
  }
  return client;
}

/** "::ffff:10.0.0.1" → "10.0.0.1"; "[2001:db8::1]" → "2001:db8::1". */
function normalise(address: string): string {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  return bare.startsWith('::ffff:') && isIP(bare.slice(7)) === 4 ? bare.slice(7) : bare;
}

/** RFC 7239 §6: IPv6 nodes are bracketed and quoted. */
function forwardedNode(address: string): string {
  return isIP(address) === 6 ? `"[${address}]"` : address;
}

function quoteIfNeeded(value: string): string {
  return /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(value) ? value : `"${value.replace(/["\\]/g, '\\$&')}"`;
}

function joined(value: string | string[] | undefined): string | undefined {
  const text = Array.isArray(value) ? value.join(', ') : value;
  return text?.trim() || undefined;
}

function first(value: string | string[] | undefined): string | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  return text?.split(',')[0]?.trim() || undefined;
}
