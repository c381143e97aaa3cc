/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) apply to one connection only: a proxy
 * must not forward them, nor any header the Connection header names.
 */
import type { IncomingHttpHeaders } from 'node:http';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/**
 * A copy of `headers` without hop-by-hop headers.
 * @example stripHopByHop({ connection: 'close, x-secret', 'x-secret': '1', accept: '*' }) // { accept: '*' }
 */
export function stripHopByHop(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const named = new Set<string>();
  const connection = headers.connection;
  for (const value of Array.isArray(connection) ? connection : connection ? [connection] : []) {
    for (const token of value.split(',')) named.add(token.trim().toLowerCase());
  }
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue;
    out[name] = value;
  }
  return out;
}
