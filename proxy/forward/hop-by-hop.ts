/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) apply to one connection only: a proxy
 * must not forward them, nor any header the Connection header names.
 */
import type { IncomingHttpHeaders } from 'node:http';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/**
 * Copies `headers` into `into` without hop-by-hop headers, and returns `into`.
 * One pass, and no Set unless Connection names more than close or keep-alive
 * (it runs twice per proxied request).
 * @example stripHopByHop({ connection: 'close, x-secret', 'x-secret': '1', accept: '*' }) // { accept: '*' }
 */
export function stripHopByHop(headers: IncomingHttpHeaders, into: Record<string, string | string[]> = {}): Record<string, string | string[]> {
  const named = namedByConnection(headers.connection);
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name) || (named !== undefined && named.has(name))) continue;
    into[name] = value;
  }
  return into;
}

/** The header names a Connection header lists, beyond the hop-by-hop ones; undefined for none (the usual case). */
function namedByConnection(connection: string | string[] | undefined): Set<string> | undefined {
  if (connection === undefined || connection === 'keep-alive' || connection === 'close') return undefined;
  let named: Set<string> | undefined;
  for (const value of Array.isArray(connection) ? connection : [connection]) {
    for (const token of value.split(',')) {
      const name = token.trim().toLowerCase();
      if (!HOP_BY_HOP.has(name) && name !== 'close' && name !== '') (named ??= new Set()).add(name);
    }
  }
  return named;
}
