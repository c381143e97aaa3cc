/**
 * Picks the route for a request: first the host (nginx's server_name order:
 * an exact name, then the longest matching "*.suffix" wildcard, then the
 * routes without `host`), then, among that host's routes, the longest
 * matching path prefix (nginx `location` prefixes). As with nginx's server
 * blocks, a host that matches but has no route for the path is not handed to
 * the default routes: it gets 404.
 */
import type { RouteConfig } from '../../lib/config/load.js';

export class Router {
  private readonly exact = new Map<string, RouteConfig[]>();
  /** Wildcard suffixes (".example.com"), longest first. */
  private readonly wildcards: Array<[string, RouteConfig[]]> = [];
  private readonly anyHost: RouteConfig[] = [];
  /** Some routes are for particular hosts. */
  readonly byHost: boolean;

  constructor(routes: RouteConfig[]) {
    const wild = new Map<string, RouteConfig[]>();
    for (const route of routes) {
      if (!route.host) {
        this.anyHost.push(route);
        continue;
      }
      for (const host of route.host) {
        const [map, key] = host.startsWith('*.') ? [wild, host.slice(1)] : [this.exact, host];
        map.set(key, [...(map.get(key) ?? []), route]);
      }
    }
    this.wildcards.push(...[...wild].sort(([a], [b]) => b.length - a.length));
    this.byHost = this.exact.size > 0 || this.wildcards.length > 0;
    // Longest first, so the first match is the most specific; ties keep config order.
    for (const list of [this.anyHost, ...this.exact.values(), ...this.wildcards.map(([, l]) => l)]) list.sort((a, b) => b.path.length - a.path.length);
  }

  /**
   * The route for `path` on `host` (a Host header: the port and case do not matter), or undefined.
   * A prefix ending without "/" matches only whole segments: "/api" matches "/api" and "/api/x", not "/apix".
   * @example new Router(routes).match('/api/foo', 'example.com:8080')?.name // "api"
   */
  match(path: string, host?: string): RouteConfig | undefined {
    return this.routesFor(host).find((route) => matchesPrefix(path, route.path));
  }

  private routesFor(host: string | undefined): RouteConfig[] {
    if (host === undefined || !this.byHost) return this.anyHost;
    const name = hostName(host);
    const exact = this.exact.get(name);
    if (exact) return exact;
    for (const [suffix, routes] of this.wildcards) if (name.endsWith(suffix) && name.length > suffix.length) return routes;
    return this.anyHost;
  }
}

/** "Example.COM:8080" → "example.com"; "[::1]:8080" → "[::1]"; a trailing dot is dropped. */
function hostName(host: string): string {
  const bare = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':', 1)[0]!;
  return bare.toLowerCase().replace(/\.$/, '');
}

function matchesPrefix(path: string, prefix: string): boolean {
  if (!path.startsWith(prefix)) return false;
  return prefix.endsWith('/') || path.length === prefix.length || path[prefix.length] === '/' || path[prefix.length] === '?';
}
