/**
 * Each route's chain of steps, built once when the config loads (nginx's
 * phases, Envoy's filter chains): a route gets only the steps it uses, so a
 * route without rewrites, header edits, compression, limits or a cache runs
 * none of their code. The steps run in nginx's phase order (rewrite → headers
 * → access → cache → body limit), then the route's content: a static file, or
 * the upstream, through the cache when the route has one.
 */
import { ClientLeft } from '../../lib/client-left.js';
import type { RouteConfig } from '../../lib/config/load.js';
import type { Upstream } from '../balancer/upstream.js';
import type { HttpCache } from '../cache/http-cache.js';
import { deliver, type Fetched, type FetchUpstream } from '../forward/fetched.js';
import type { OutgoingRequest } from '../forward/forward.js';
import { declaredTooLarge, hasBody, NO_BODY, readBody, type RequestBody } from '../forward/request-body.js';
import type { ProxyMetrics } from '../metrics.js';
import type { FetchWithRetries } from './attempts.js';
import type { ClientLimits } from './client-limits.js';
import { compressResponse } from './compress.js';
import type { Exchange } from './exchange.js';
import { editRequestHeaders, hasEdits, rewriteTarget } from './route-edits.js';
import { serveStatic } from './static.js';

/** Go on to the next step. */
export const NEXT = 0;
/** The step wrote the whole response (a fresh cache hit): record it now. */
export const WRITTEN = 1;
/** The proxy's own answer, as problem+json. `close`: the request's unread body must not be taken for the next one. */
export interface Problem {
  status: number;
  detail: string;
  headers?: Record<string, string>;
  close?: boolean;
}
export type Verdict = typeof NEXT | typeof WRITTEN | Problem;

/** One step of a route's chain: does one thing to the exchange, and answers it or lets the next step go on. */
export interface Step {
  /** For tests and profiles. */
  name: string;
  run(x: Exchange): Verdict;
}

export interface RouteChain {
  route: RouteConfig;
  steps: Step[];
  /** The content phase. */
  content(x: Exchange): Promise<void>;
  /** What a WebSocket upgrade on this route shares with its requests: the target rewrite and the request header edits. */
  prepareUpgrade(req: Exchange['req']): void;
  /** The content phase puts X-Request-Id into the headers it writes itself (a proxied route without a cache). */
  writesRequestId: boolean;
}

export interface ChainDeps {
  upstreams: ReadonlyMap<string, Upstream>;
  cache: HttpCache;
  limits: ClientLimits;
  metrics: ProxyMetrics;
  fetchWithRetries: FetchWithRetries;
}

/** The chain of every route, by route. */
export function buildChains(routes: readonly RouteConfig[], deps: ChainDeps): Map<RouteConfig, RouteChain> {
  return new Map(routes.map((route) => [route, buildChain(route, deps)]));
}

export function buildChain(route: RouteConfig, deps: ChainDeps): RouteChain {
  const requestEdits = [rewrite(route), requestHeaders(route)].filter((e): e is RequestEdit => e !== undefined);
  const steps = [
    ...requestEdits.map((edit): Step => ({ name: edit.name, run: (x) => { edit.apply(x.req); return NEXT; } })),
    responseHeadersStep(route),
    compressStep(route),
    limitsStep(route, deps),
    cacheHitStep(route, deps),
    bodyLimitStep(route, deps),
  ].filter((s): s is Step => s !== undefined);
  return {
    route,
    steps,
    content: route.static !== undefined ? staticContent(route) : upstreamContent(route, deps),
    prepareUpgrade: (req) => { for (const edit of requestEdits) edit.apply(req); },
    writesRequestId: route.static === undefined && !route.cache.enabled,
  };
}

/** A change to the request itself, which WebSocket upgrades share with requests. */
interface RequestEdit {
  name: string;
  apply(req: Exchange['req']): void;
}

/** strip_prefix / replace_prefix: the target the upstream gets. */
function rewrite(route: RouteConfig): RequestEdit | undefined {
  if (!route.strip_prefix && route.replace_prefix === undefined) return undefined;
  return { name: 'rewrite', apply: (req) => { req.url = rewriteTarget(req.url ?? '/', route); } };
}

function requestHeaders(route: RouteConfig): RequestEdit | undefined {
  if (!hasEdits(route.request_headers)) return undefined;
  return { name: 'request-headers', apply: (req) => editRequestHeaders(req.headers, route.request_headers) };
}

/** Every response of the route carries the edits, whoever writes it (edited-response.ts). */
function responseHeadersStep(route: RouteConfig): Step | undefined {
  if (!hasEdits(route.response_headers)) return undefined;
  return { name: 'response-headers', run: (x) => { x.res.edits = route.response_headers; return NEXT; } };
}

function compressStep(route: RouteConfig): Step | undefined {
  if (!route.compress.enabled) return undefined;
  return { name: 'compress', run: (x) => { compressResponse(route, x.req, x.res); return NEXT; } };
}

/** Per-client rate and concurrency (nginx limit_req nodelay, limit_conn): 429 + Retry-After beyond. */
function limitsStep(route: RouteConfig, { limits, metrics }: ChainDeps): Step | undefined {
  if (route.limits.rate === undefined && route.limits.concurrent === undefined) return undefined;
  return {
    name: 'limits',
    run: (x) => {
      const admission = limits.admit(route, x.client);
      if (!admission.ok) {
        metrics.limited.inc({ route: route.name, reason: admission.reason });
        return { status: 429, detail: admission.detail, headers: { 'Retry-After': String(admission.retryAfterSeconds) } };
      }
      if (admission.release) x.res.once('close', admission.release);
      return NEXT;
    },
  };
}

/** A fresh hit, written whole before anything else is set up (bench: npm run bench -- --scenario cache). */
function cacheHitStep(route: RouteConfig, { cache, metrics }: ChainDeps): Step | undefined {
  if (!route.cache.enabled) return undefined;
  return {
    name: 'cache-hit',
    run: (x) => {
      const hit = cache.serveFresh(x.req, x.res, x.id);
      if (hit === undefined) return NEXT;
      x.upstream = route.upstream!;
      x.cache = hit;
      metrics.cacheRequests.inc({ route: route.name, status: 'hit' });
      return WRITTEN;
    },
  };
}

/** A body declared larger than the route allows (nginx's client_max_body_size): 413 before reading it. */
function bodyLimitStep(route: RouteConfig, { metrics }: ChainDeps): Step {
  const max = route.limits.max_body;
  const detail = `the request body is larger than this route's limit of ${max} bytes`;
  return {
    name: 'body-limit',
    run: (x) => {
      if (!declaredTooLarge(x.req, max)) return NEXT;
      metrics.rejected.inc({ reason: 'body_too_large' });
      return { status: 413, detail, close: true };
    },
  };
}

function staticContent(route: RouteConfig): RouteChain['content'] {
  const root = route.static!;
  return (x) => serveStatic(x.req, x.res, root, route.path, x.pathname, route.cache_control);
}

/** The upstream: read the body (buffered when small enough to retry), then forward, through the cache when the route has one. */
function upstreamContent(route: RouteConfig, { upstreams, cache, metrics, fetchWithRetries }: ChainDeps): RouteChain['content'] {
  const upstream = upstreams.get(route.upstream!)!;
  return async (x) => {
    const { req, res } = x;
    x.upstream = upstream.config.name;
    let body: RequestBody;
    try {
      body = hasBody(req) ? await readBody(req, route.limits.max_body) : NO_BODY;
    } catch {
      return void res.destroy(); // the client went away mid-body: nobody to answer
    }
    // Fired by the handler's 'close' listener when the client leaves before its response is complete.
    const clientGone = (x.left = new ClientLeft());
    if (route.cache.enabled) {
      const fetch: FetchUpstream = (outgoing) => fetchWithRetries(x, outgoing, upstream, body, clientGone);
      // Background revalidation answers nobody: it is not cut short when this client leaves.
      const background: FetchUpstream = (outgoing) => fetchWithRetries({ ...x }, outgoing, upstream, body, new ClientLeft());
      x.cache = await cache.handle({ req, res, post: route.cache.post, body, fetch, background });
      return void metrics.cacheRequests.inc({ route: route.name, status: x.cache.toLowerCase() });
    }
    const outgoing: OutgoingRequest = { method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers };
    const fetched = await fetchWithRetries(x, outgoing, upstream, body, clientGone);
    deliver(fetched, res, withRequestId(fetched, x.id));
  };
}

/**
 * X-Request-Id in the headers given to writeHead: a header set on the response
 * before writeHead(status, headers) sends every other one through setHeader,
 * Node's slow path (validation, lower-casing, an array per header). The upstream's own
 * X-Request-Id, when it sends one, wins, as it did over setHeader.
 */
function withRequestId(fetched: Fetched, id: string): Record<string, string> | undefined {
  if (fetched.kind !== 'response') return { 'X-Request-Id': id };
  fetched.response.headers['x-request-id'] ??= id;
  return undefined;
}
