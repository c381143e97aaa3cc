/**
 * What a route changes on the way through: the path sent upstream
 * (strip_prefix / replace_prefix, like nginx's `proxy_pass http://b/;` and
 * Traefik's StripPrefix/ReplacePath), and request and response header fields
 * (set, add, remove), on every response of the route, the proxy's own included.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { RouteConfig } from '../../lib/config/load.js';

export type HeaderEdits = RouteConfig['request_headers'];

export function hasEdits(edits: HeaderEdits): boolean {
  return edits.remove.length > 0 || Object.keys(edits.set).length > 0 || Object.keys(edits.add).length > 0;
}

/** What a route changes, worked out once per route (routes are rebuilt on reload, so a WeakMap forgets old ones). */
const needs = new WeakMap<RouteConfig, { rewrite: boolean; request: boolean; response: boolean }>();

/** Rewrites the target and edits the request headers of `req`, as `route` says; returns whether responses need editing. */
export function applyRouteToRequest(req: { url?: string; headers: IncomingHttpHeaders }, route: RouteConfig): boolean {
  let need = needs.get(route);
  if (!need) {
    need = { rewrite: route.strip_prefix || route.replace_prefix !== undefined, request: hasEdits(route.request_headers), response: hasEdits(route.response_headers) };
    needs.set(route, need);
  }
  if (need.rewrite) req.url = rewriteTarget(req.url ?? '/', route);
  if (need.request) editRequestHeaders(req.headers, route.request_headers);
  return need.response;
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

/**
 * Makes every response `res` writes carry `edits`, whichever path writes it
 * (proxied, cached, static, or the proxy's own problem answers): the headers
 * given to writeHead are folded into the response's own first, so that the
 * edits see them all.
 */
export function editResponseHeaders(res: ServerResponse, edits: HeaderEdits): void {
  const writeHead = res.writeHead;
  res.writeHead = function (this: ServerResponse, status: number, ...rest: unknown[]): ServerResponse {
    const message = typeof rest[0] === 'string' ? (rest.shift() as string) : undefined;
    const headers = rest[0] as OutgoingHttpHeaders | string[] | undefined;
    if (Array.isArray(headers)) {
      for (let i = 0; i < headers.length; i += 2) this.removeHeader(headers[i]!);
      for (let i = 0; i < headers.length; i += 2) this.appendHeader(headers[i]!, headers[i + 1]!);
    } else if (headers) {
      for (const [name, value] of Object.entries(headers)) if (value !== undefined) this.setHeader(name, value);
    }
    for (const name of edits.remove) this.removeHeader(name);
    for (const [name, value] of Object.entries(edits.set)) this.setHeader(name, value);
    for (const [name, value] of Object.entries(edits.add)) this.appendHeader(name, value);
    const write = writeHead as (this: ServerResponse, status: number, message?: string) => ServerResponse;
    return message === undefined ? write.call(this, status) : write.call(this, status, message);
  } as ServerResponse['writeHead'];
}
