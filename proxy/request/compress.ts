/**
 * On-the-fly response compression for routes with `compress` (Brotli or gzip
 * by Accept-Encoding, with Vary), by the `compression` library of the Express
 * project: it works on plain node:http responses, negotiates, sets Vary, skips
 * HEAD, small bodies, `no-transform` and bodies already encoded. We add: never
 * a range (206 or Content-Range), and the route's own media types.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import compression from 'compression';
import type { RouteConfig } from '../../lib/config/load.js';

type Middleware = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;

const middlewares = new WeakMap<RouteConfig, Middleware>();

/** Makes `res` compressed as `route` says, if the response turns out to qualify when its headers are written. */
export function compressResponse(route: RouteConfig, req: IncomingMessage, res: ServerResponse): void {
  let middleware = middlewares.get(route);
  if (!middleware) {
    middleware = compression({
      threshold: route.compress.min_bytes,
      filter: (_req, response) => qualifies(response as unknown as ServerResponse, route.compress.types),
    }) as unknown as Middleware;
    middlewares.set(route, middleware);
  }
  middleware(req, res, () => {});
}

function qualifies(res: ServerResponse, types: readonly string[]): boolean {
  if (res.statusCode === 206 || res.getHeader('content-range') !== undefined) return false;
  const type = String(res.getHeader('content-type') ?? '').split(';', 1)[0]!.trim().toLowerCase();
  if (types.length === 0) return compression.filter(undefined as never, res as never);
  return types.some((t) => (t.endsWith('/*') ? type.startsWith(t.slice(0, -1)) : type === t.toLowerCase()));
}
