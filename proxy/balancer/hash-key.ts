/** The consistent-hashing key of a request, as `upstreams.<name>.hash.key` names it. */
import type { IncomingMessage } from 'node:http';

export interface HashKeySpec {
  source: 'client' | 'header' | 'cookie';
  /** Header name (lower-case) or cookie name (as written: cookie names are case-sensitive). */
  name: string;
}

/**
 * `client` is the real client's address (after trusted-proxy resolution).
 * @example hashKeyOf(req, client, { source: 'cookie', name: 'session' }) // "abc123", or undefined without the cookie
 */
export function hashKeyOf(req: IncomingMessage, client: string, spec: HashKeySpec): string | undefined {
  switch (spec.source) {
    case 'client':
      return client;
    case 'header': {
      const value = req.headers[spec.name];
      return Array.isArray(value) ? value.join(',') : value;
    }
    case 'cookie':
      return cookieValue(req.headers.cookie, spec.name);
  }
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
