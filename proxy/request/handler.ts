/**
 * The request path, top to bottom: client and request id (trusted proxies) →
 * route → static file, or upstream: take a server (at once, or after the
 * queue) → forward → on failure retry on another server when that is safe and
 * the budget allows → record.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../lib/log.js';
import { finished } from 'node:stream';
import type { AttemptOutcome, Forwarder, OutgoingRequest } from '../forward/forward.js';
import type { CacheStatus, HttpCache } from '../cache/http-cache.js';
import { deliver, type Fetched, type FetchUpstream } from '../forward/fetched.js';
import { clientView, type ClientView, type TrustedProxies } from './forwarded.js';
import { hashKeyOf } from '../balancer/hash-key.js';
import type { ProxyMetrics } from '../metrics.js';
import { proxiedAddressOf } from '../listen/proxy-protocol.js';
import { publicStatus } from '../admin/public-status.js';
import { declaredTooLarge, readBody, type RequestBody } from '../forward/request-body.js';
import { sendProblem } from './respond.js';
import type { ClientLimits } from './client-limits.js';
import type { Router } from './router.js';
import { compressResponse } from './compress.js';
import { applyRouteToRequest, editResponseHeaders } from './route-edits.js';
import { serveStatic } from './static.js';
import { ShedError, type ServerState, type Upstream } from '../balancer/upstream.js';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
const KNOWN_METHODS = new Set([...IDEMPOTENT, 'POST', 'PATCH', 'CONNECT']);

export interface HandlerState {
  router: Router;
  upstreams: Map<string, Upstream>;
  accessLog: boolean;
  trustedProxies: TrustedProxies;
  maxHeaders: number;
  /** Path of the public pool status, or "" for none. */
  publicStatus: string;
  /** The response cache of the routes that set `cache`. */
  cache: HttpCache;
  /** Per-client rate and concurrency limits of the routes that set them. */
  limits: ClientLimits;
}

interface Exchange {
  id: string;
  /** The real client's address, after trusted-proxy resolution. */
  client: string;
  /** The request target as the client sent it (before a route rewrote it), for the access log. */
  path: string;
  /** Who the client is, and the forwarding headers for the upstream (built when first needed). */
  view: ClientView;
  started: number;
  /** The client socket's bytesWritten when the request began: the response's size is the growth. */
  bytesBefore: number;
  route: string;
  upstream: string;
  server: string;
  /** What the route's cache did (X-Cache), when it has one. */
  cache?: CacheStatus;
}

type Failure = Extract<AttemptOutcome, { kind: 'error' }>;



export function createHandler(getState: () => HandlerState, forwarder: Forwarder, metrics: ProxyMetrics, log: Logger) {
  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { router, upstreams, accessLog, trustedProxies, maxHeaders, publicStatus: statusPath, cache, limits } = getState();
    const socket = req.socket as typeof req.socket & { encrypted?: boolean };
    // Behind an L4 balancer speaking the PROXY protocol, the client is who its header names.
    const peer = proxiedAddressOf(socket)?.address ?? socket.remoteAddress ?? '';
    const view = clientView(req.headers, { remoteAddress: peer, localPort: socket.localPort ?? 0, encrypted: socket.encrypted === true }, trustedProxies);
    const x: Exchange = {
      id: view.requestId, client: view.client, view, path: req.url ?? '/', started: performance.now(), bytesBefore: req.socket.bytesWritten, route: 'none', upstream: '', server: '',
    };
    const tooManyHeaders = req.rawHeaders.length / 2 - (req.httpVersionMajor === 2 ? 4 : 0) > maxHeaders;
    const pathname = (req.url ?? '/').split('?', 1)[0]!;
    const route = tooManyHeaders || pathname === statusPath ? undefined : router.match(pathname, req.headers.host);
    if (route && applyRouteToRequest(req, route)) editResponseHeaders(res, route.response_headers);
    if (route?.compress.enabled) compressResponse(route, req, res);
    if (route && (route.limits.rate !== undefined || route.limits.concurrent !== undefined)) {
      const admission = limits.admit(route, x.client);
      if (!admission.ok) {
        x.route = route.name;
        res.once('close', () => record(req, res, x, accessLog));
        res.setHeader('X-Request-Id', x.id);
        metrics.limited.inc({ route: route.name, reason: admission.reason });
        return sendProblem(res, 429, admission.detail, { 'Retry-After': String(admission.retryAfterSeconds) });
      }
      if (admission.release) res.once('close', admission.release);
    }
    // A fresh cache hit, answered before anything else is set up (bench: npm run bench -- --scenario cache).
    const hit = route?.cache.enabled ? cache.serveFresh(req, res, x.id) : undefined;
    if (hit !== undefined) {
      x.route = route!.name;
      x.upstream = route!.upstream!;
      x.cache = hit;
      metrics.cacheRequests.inc({ route: x.route, status: 'hit' });
      return record(req, res, x, accessLog, true); // written whole, into the socket's buffer: no need to wait for 'close'
    }
    res.once('close', () => record(req, res, x, accessLog));
    res.setHeader('X-Request-Id', x.id);
    if (tooManyHeaders) {
      res.shouldKeepAlive = false;
      metrics.rejected.inc({ reason: 'too_many_headers' });
      return sendProblem(res, 431, `the request has more than ${maxHeaders} header fields`);
    }
    if (!pathname.startsWith('/')) return sendProblem(res, 400, 'the request target must be a path starting with "/"');
    if (statusPath && pathname === statusPath) {
      x.route = 'public_status';
      const body = JSON.stringify(publicStatus(upstreams.values()));
      res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(body) });
      return void res.end(req.method === 'HEAD' ? undefined : body);
    }
    if (!route) return sendProblem(res, 404, `no route matches ${pathname}${router.byHost ? ` on host ${req.headers.host ?? '(none)'}` : ''}`);
    x.route = route.name;
    if (declaredTooLarge(req, route.limits.max_body)) {
      res.shouldKeepAlive = false; // the unread body must not be taken for the next request
      metrics.rejected.inc({ reason: 'body_too_large' });
      return sendProblem(res, 413, `the request body is larger than this route's limit of ${route.limits.max_body} bytes`);
    }
    if (route.static !== undefined) return serveStatic(req, res, route.static, route.path, pathname, route.cache_control);

    const upstream = upstreams.get(route.upstream!)!;
    x.upstream = upstream.config.name;
    let body: RequestBody;
    try {
      body = await readBody(req, route.limits.max_body);
    } catch {
      return void res.destroy(); // the client went away mid-body: nobody to answer
    }
    const clientGone = new AbortController();
    // Aborting builds a DOMException with a stack: only when the client really left (profiled: 7 % of the proxy's CPU).
    res.once('close', () => { if (!res.writableFinished) clientGone.abort(); });
    if (route.cache.enabled) {
      const fetch: FetchUpstream = (outgoing) => fetchWithRetries(req, outgoing, upstream, body, x, clientGone.signal);
      // Background revalidation answers nobody: it is not cut short when this client leaves.
      const background: FetchUpstream = (outgoing) => fetchWithRetries(req, outgoing, upstream, body, { ...x }, new AbortController().signal);
      x.cache = await cache.handle({ req, res, post: route.cache.post, body, fetch, background });
      return void metrics.cacheRequests.inc({ route: x.route, status: x.cache.toLowerCase() });
    }
    const outgoing: OutgoingRequest = { method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers };
    deliver(await fetchWithRetries(req, outgoing, upstream, body, x, clientGone.signal), res);
  };

  /**
   * Takes a server of `upstream` (at once or after the queue), sends `outgoing`,
   * and on failure tries another server when that is safe and the budget
   * allows. A response's server is released when its body has been read.
   */
  async function fetchWithRetries(req: IncomingMessage, outgoing: OutgoingRequest, upstream: Upstream, body: RequestBody, x: Exchange, clientGone: AbortSignal): Promise<Fetched> {
    const { retries, timeouts } = upstream.config;
    const ctx = { hashKey: hashKeyOf(req, x.client, upstream.config.hash.key) };
    const tried = new Set<ServerState>();
    upstream.retryBudget.recordRequest();

    for (let attempt = 0; ; attempt++) {
      let server: ServerState;
      try {
        server = await upstream.acquire(ctx, clientGone, tried);
      } catch (err) {
        if (!(err instanceof ShedError)) throw err;
        metrics.shed.inc({ upstream: x.upstream, reason: err.reason });
        if (err.reason === 'client_gone') return { kind: 'gone' }; // nobody to answer; free the connection
        if (tried.size > 0) return { kind: 'problem', status: 502, detail: `every server of upstream "${x.upstream}" tried failed this request` };
        return { kind: 'problem', status: 503, detail: `${err.message}; retry after 1 s`, headers: { 'Retry-After': '1' } };
      }
      tried.add(server);
      x.server = server.url;
      const options = { connectTimeoutMs: timeouts.connect, responseTimeoutMs: timeouts.response, tls: upstream.config.tls };
      let outcome = await forwarder.send(outgoing, server.url, options, upstreamHeadersOf(x), clientGone, body);
      if (outcome.kind === 'error' && outcome.staleConnection && mayResend(req, body)) {
        // The server closed a keep-alive connection as the request went out on it: not the
        // server's fault, so once more on a new connection to the same server, counted
        // neither as a failure nor against the retry budget (HAProxy's http-reuse safe).
        metrics.staleConnectionResends.inc({ upstream: x.upstream });
        const again = await forwarder.send(outgoing, server.url, { ...options, freshConnection: true }, upstreamHeadersOf(x), clientGone, body);
        // The first attempt was sent: a refused resend must not make it look never sent.
        outcome = again.kind === 'error' ? { ...again, sent: true } : again;
      }
      if (outcome.kind === 'response') {
        upstream.recordAttempt(server, outcome);
        finished(outcome.body, () => upstream.release(server));
        return { kind: 'response', response: outcome };
      }
      upstream.release(server);
      if (outcome.kind === 'client-gone') return { kind: 'gone' };

      if (body.kind === 'streamed' && body.tooLarge()) {
        metrics.rejected.inc({ reason: 'body_too_large' });
        return { kind: 'problem', status: 413, detail: `the request body is larger than this route's limit`, close: true };
      }
      upstream.recordAttempt(server, outcome);
      log.warn({ id: x.id, upstream: x.upstream, server: server.url, code: outcome.code, error: outcome.message }, 'upstream attempt failed');
      if (outcome.timedOut) return { kind: 'problem', status: 504, detail: `upstream server did not answer within ${timeouts.response} ms` };
      if (!mayRetry(req, outcome, body) || attempt >= retries.attempts) {
        return { kind: 'problem', status: 502, detail: `upstream server failed (${outcome.code})` };
      }
      if (!upstream.retryBudget.tryRetry()) {
        metrics.retryBudgetExhausted.inc({ upstream: x.upstream });
        return { kind: 'problem', status: 502, detail: `upstream server failed (${outcome.code}); the retry budget of upstream "${x.upstream}" is spent` };
      }
      metrics.retries.inc({ upstream: x.upstream });
    }
  }

  function record(req: IncomingMessage, res: ServerResponse, x: Exchange, accessLog: boolean, written = false): void {
    const seconds = (performance.now() - x.started) / 1000;
    const method = KNOWN_METHODS.has(req.method ?? '') ? req.method! : 'OTHER';
    const completed = written || res.writableFinished;
    const code = completed ? String(res.statusCode) : '0';
    metrics.requests.inc({ route: x.route, upstream: x.upstream, server: x.server, code, method });
    metrics.requestDuration.observe({ route: x.route, upstream: x.upstream }, seconds);
    if (!accessLog) return;
    log.info({
      id: x.id, client: x.client, method: req.method, path: x.path, status: res.statusCode,
      bytes: req.socket.bytesWritten - x.bytesBefore, duration: Math.round(seconds * 1e6) / 1e6,
      route: x.route, upstream: x.upstream || undefined, server: x.server || undefined, cache: x.cache, completed,
    }, 'request');
  }
}

/** The forwarding headers and the request id, as every attempt sends them. */
function upstreamHeadersOf(x: Exchange): Record<string, string> {
  return { ...x.view.upstreamHeaders, 'x-request-id': x.id };
}

/**
 * Resend after a stale keep-alive connection only what is safe to send twice: an
 * idempotent request with a body we can replay. A POST may have reached the server
 * before the connection broke (even a failed write can follow a partial one).
 */
function mayResend(req: IncomingMessage, body: RequestBody): boolean {
  return body.kind !== 'streamed' && IDEMPOTENT.has(req.method ?? '');
}

/** Retry only what cannot have been half-done: never after a timeout, and only with a body we can replay. */
function mayRetry(req: IncomingMessage, outcome: Failure, body: RequestBody): boolean {
  if (outcome.timedOut || body.kind === 'streamed') return false;
  return !outcome.sent || IDEMPOTENT.has(req.method ?? '');
}
