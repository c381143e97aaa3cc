/**
 * What a route changes on the way through: the path sent upstream
 * (strip_prefix / replace_prefix, like nginx's `proxy_pass http://b/;` and
 * Traefik's StripPrefix/ReplacePath) and request header fields (set, add,
 * remove). Response header edits are made by the listeners' response class
 * (edited-response.ts); chain.ts decides per route which of these run.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { RouteConfig } from '../../lib/config/load.js';

export type HeaderEdits = RouteConfig['request_headers'];

export function hasEdits(edits: HeaderEdits): boolean {
  return edits.remove.length > 0 || Object.keys(edits.set).length > 0 || Object.keys(edits.add).length > 0;
}

/**
 * The request target the upstream gets for `url` on `route`.
 * @example rewriteTarget('/api/foo?x=1', { path: '/api/', strip_prefix: true }) // "/foo?x=1"
 */
export function rewriteTarget(url: string, route: Pick<RouteConfig, 'path' | 'strip_prefix' | 'replace_prefix'>): string {
  if (!route.strip_prefix && route.replace_prefix === undefined) return url;
  if (!url.startsWith(route.path)) return url;
  const rest = url.slice(route.path.length);
  const prefix = route.replace_prefix ?? '/';
  // "/api" + "/x" and "/api/" + "x" both become prefix + "x" with exactly one slash between.
  const joined = prefix.endsWith('/') ? prefix + rest.replace(/^\//, '') : rest === '' || rest.startsWith('/') || rest.startsWith('?') ? prefix + rest : `${prefix}/${rest}`;
  return joined.startsWith('/') ? joined : `/${joined}`;
}

/** Applies `edits` to a request's headers in place (what every attempt then forwards). */
export function editRequestHeaders(headers: IncomingHttpHeaders, edits: HeaderEdits): void {
  for (const name of edits.remove) delete headers[name];
  for (const [name, value] of Object.entries(edits.set)) headers[name] = value;
  for (const [name, value] of Object.entries(edits.add)) {
    const old = headers[name];
    headers[name] = old === undefined ? value : name === 'set-cookie' ? [...(Array.isArray(old) ? old : [old]), value] : `${old}, ${value}`;
  }
}
