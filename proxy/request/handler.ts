/**
 * The request path, top to bottom: the exchange (client, request id) → what no
 * route may skip (header count, target form, the public status) → the route →
 * its chain of steps, built when the config loaded (chain.ts) → its content (a
 * static file, or the upstream through balancing, retries and the cache). Every
 * answer the proxy makes itself goes out through `answer`, and every exchange is
 * recorded once, when its response ends.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RouteConfig } from '../../lib/config/load.js';
import { publicStatus } from '../admin/public-status.js';
import type { Upstream } from '../balancer/upstream.js';
import type { ProxyMetrics } from '../metrics.js';
import { NEXT, type Problem, type RouteChain, WRITTEN } from './chain.js';
import { type Exchange, startExchange } from './exchange.js';
import type { TrustedProxies } from './forwarded.js';
import type { Recorder } from './record.js';
import { ExchangeTrace } from './trace.js';
import type { Tracing } from '../../lib/tracing/tracer.js';
import { sendProblem } from './respond.js';
import type { Router } from './router.js';

export interface HandlerState {
  router: Router;
  /** Each route's chain of steps. */
  chains: ReadonlyMap<RouteConfig, RouteChain>;
  upstreams: Map<string, Upstream>;
  accessLog: boolean;
  /** OpenTelemetry tracing, when the config turns it on. */
  tracing: Tracing | undefined;
  trustedProxies: TrustedProxies;
  maxHeaders: number;
  /** Path of the public pool status, or "" for none. */
  publicStatus: string;
}

export function createHandler(getState: () => HandlerState, metrics: ProxyMetrics, record: Recorder) {
  /** Returns a promise only for the content phase: an answer made at once (a cache hit, a 404) allocates none. */
  return function handle(req: IncomingMessage, res: ServerResponse): Promise<void> | void {
    const state = getState();
    const x = startExchange(req, res, state.trustedProxies, state.accessLog);
    if (state.tracing) x.trace = new ExchangeTrace(state.tracing.tracer, x);

    const early = beforeRouting(x, state);
    if (early !== undefined) return answer(x, early);
    if (state.publicStatus && x.pathname === state.publicStatus) return servePublicStatus(x, state);
    const route = state.router.match(x.pathname, req.headers.host);
    if (!route) return answer(x, { status: 404, detail: `no route matches ${x.pathname}${state.router.byHost ? ` on host ${req.headers.host ?? '(none)'}` : ''}` });
    x.route = route.name;
    x.trace?.routed(route.path);

    const chain = state.chains.get(route)!;
    for (const step of chain.steps) {
      const verdict = step.run(x);
      if (verdict === NEXT) continue;
      // Written whole into the socket's buffer: recorded now, without waiting for 'close'.
      if (verdict === WRITTEN) return record(x, true);
      return answer(x, verdict);
    }
    if (!chain.writesRequestId) {
      open(x);
      return chain.content(x);
    }
    open(x, false);
    // The 500 of a failure (proxy/main.ts) carries the id the content phase would have written.
    return chain.content(x).catch((err: unknown) => {
      if (!res.headersSent) res.setHeader('X-Request-Id', x.id);
      throw err;
    });
  };

  /** The checks no route may skip: too many header fields (431) and a target that is not a path (400). */
  function beforeRouting(x: Exchange, state: HandlerState): Problem | undefined {
    const { req } = x;
    if (req.rawHeaders.length / 2 - (req.httpVersionMajor === 2 ? 4 : 0) > state.maxHeaders) {
      metrics.rejected.inc({ reason: 'too_many_headers' });
      return { status: 431, detail: `the request has more than ${state.maxHeaders} header fields`, close: true };
    }
    if (!x.pathname.startsWith('/')) return { status: 400, detail: 'the request target must be a path starting with "/"' };
    return undefined;
  }

  /** The proxy's own answer (problem+json), with the request id, recorded when it ends. */
  function answer(x: Exchange, problem: Problem): void {
    open(x);
    if (problem.close) x.res.shouldKeepAlive = false; // an unread body must not be taken for the next request
    sendProblem(x.res, problem.status, problem.detail, problem.headers);
  }

  function servePublicStatus(x: Exchange, state: HandlerState): void {
    x.route = 'public_status';
    open(x);
    const body = JSON.stringify(publicStatus(state.upstreams.values()));
    x.res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(body) });
    x.res.end(x.req.method === 'HEAD' ? undefined : body);
  }

  /** Every response but a fresh cache hit: the request id (unless the content phase writes it), and the record on 'close'. */
  function open(x: Exchange, setRequestId = true): void {
    if (setRequestId) x.res.setHeader('X-Request-Id', x.id);
    // The one 'close' listener of the exchange ('close' comes once: no once() wrapper).
    x.res.on('close', () => {
      if (x.left !== undefined && !x.res.writableFinished) x.left.abort();
      record(x);
    });
  }
}
