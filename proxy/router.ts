/** Picks the route for a request path: the longest matching prefix wins (nginx `location` prefixes). */
import type { RouteConfig } from '../lib/config/load.js';

export class Router {
  private readonly routes: RouteConfig[];

  constructor(routes: RouteConfig[]) {
    // Longest first, so the first match is the most specific; ties keep config order.
    this.routes = [...routes].sort((a, b) => b.path.length - a.path.length);
  }

  /**
   * The route whose `path` prefixes `path`, or undefined.
   * A prefix ending without "/" matches only whole segments: "/api" matches "/api" and "/api/x", not "/apix".
   * @example new Router(routes).match('/api/foo')?.name // "api"
   */
  match(path: string): RouteConfig | undefined {
    return this.routes.find((route) => matchesPrefix(path, route.path));
  }
}

function matchesPrefix(path: string, prefix: string): boolean {
  if (!path.startsWith(prefix)) return false;
  return prefix.endsWith('/') || path.length === prefix.length || path[prefix.length] === '/' || path[prefix.length] === '?';
}
