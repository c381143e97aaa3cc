/**
 * The request path, top to bottom: request id → route → static file, or
 * upstream: pick a server → forward → retry on another when that is safe → record.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../lib/log.js';
import type { AttemptOutcome, Forwarder } from './forward.js';
import type { ProxyMetrics } from './metrics.js';
import { sendProblem } from './respond.js';
import type { Router } from './router.js';
import { serveStatic } from './static.js';
import type { ServerState, Upstream } from './upstream.js';

/** Bodies up to this size are buffered so that a refused connection can be retried elsewhere. */
export const REPLAYABLE_BODY_BYTES = 64 * 1024;
/** Attempts on other servers after the first. */
export const MAX_RETRIES = 2;

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
const KNOWN_METHODS = new Set([...IDEMPOTENT, 'POST', 'PATCH', 'CONNECT']);
/** Connect-time failures: the request never reached the server, so any method may go elsewhere. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);

export interface HandlerState {
  router: Router;
  upstreams: Map<string, Upstream>;
}

interface Exchange {
  id: string;
  started: number;
  /** The client socket's bytesWritten when the request began: the response's size is the growth. */
  bytesBefore: number;
  route: string;
  upstream: string;
  server: string;
}

export function createHandler(getState: () => HandlerState, forwarder: Forwarder, metrics: ProxyMetrics, log: Logger) {
  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const x: Exchange = { id: randomUUID(), started: performance.now(), bytesBefore: req.socket.bytesWritten, route: 'none', upstream: '', server: '' };
    res.setHeader('X-Request-Id', x.id);
    res.once('close', () => record(req, res, x));

    const { router, upstreams } = getState();
    const pathname = (req.url ?? '/').split('?', 1)[0]!;
    if (!pathname.startsWith('/')) return sendProblem(res, 400, 'the request target must be a path starting with "/"');
    const route = router.match(pathname);
    if (!route) return sendProblem(res, 404, `no route matches ${pathname}`);
    x.route = route.name;
    if (route.static !== undefined) return serveStatic(req, res, route.static, route.path, pathname);

    const upstream = upstreams.get(route.upstream!)!;
    x.upstream = upstream.config.name;
    let body: Buffer | undefined | null;
    try {
      body = await readReplayableBody(req);
    } catch {
      return void res.destroy(); // the client went away mid-body: nobody to answer
    }
    await proxyWithRetries(req, res, upstream, body, x);
  };

  async function proxyWithRetries(req: IncomingMessage, res: ServerResponse, upstream: Upstream, body: Buffer | undefined | null, x: Exchange): Promise<void> {
    const tried = new Set<ServerState>();
    const headers = { 'x-request-id': x.id };
    for (let attempt = 0; ; attempt++) {
      const server = upstream.pick(tried);
      if (!server) {
        if (tried.size > 0) return sendProblem(res, 502, `every server of upstream "${upstream.config.name}" failed this request`);
        return sendProblem(res, 503, `no server of upstream "${upstream.config.name}" is up; retry shortly`, { 'Retry-After': '1' });
      }
      tried.add(server);
      x.server = server.url;
      server.inflight++;
      const outcome = await forwarder.forward(req, res, server.url, headers, body ?? undefined);
      if (outcome.kind === 'response') {
        metrics.upstreamDuration.observe({ upstream: x.upstream, server: server.url }, outcome.headersMs / 1000);
        if (!res.writableFinished && !res.destroyed) await new Promise((resolve) => res.once('close', resolve));
      }
      server.inflight--;
      if (outcome.kind !== 'error') return;

      const reason = failureReason(outcome);
      metrics.upstreamErrors.inc({ upstream: x.upstream, server: server.url, reason });
      if (reason === 'refused') upstream.eject(server);
      log.warn({ id: x.id, upstream: x.upstream, server: server.url, code: outcome.code, error: outcome.message }, 'upstream attempt failed');
      if (outcome.timedOut) return sendProblem(res, 504, `upstream server did not answer within the response timeout`);
      if (!mayRetry(req, outcome, body) || attempt >= MAX_RETRIES || res.headersSent) {
        return sendProblem(res, 502, `upstream server failed (${outcome.code})`);
      }
      metrics.retries.inc({ upstream: x.upstream });
    }
  }

  function record(req: IncomingMessage, res: ServerResponse, x: Exchange): void {
    const seconds = (performance.now() - x.started) / 1000;
    const method = KNOWN_METHODS.has(req.method ?? '') ? req.method! : 'OTHER';
    const code = res.writableFinished ? String(res.statusCode) : '0';
    metrics.requests.inc({ route: x.route, upstream: x.upstream, server: x.server, code, method });
    metrics.requestDuration.observe({ route: x.route, upstream: x.upstream }, seconds);
    log.info({
      id: x.id, client: req.socket.remoteAddress, method: req.method, path: req.url, status: res.statusCode,
      bytes: req.socket.bytesWritten - x.bytesBefore, duration: Math.round(seconds * 1e6) / 1e6,
      route: x.route, upstream: x.upstream || undefined, server: x.server || undefined, completed: res.writableFinished,
    }, 'request');
  }
}

function failureReason(outcome: Extract<AttemptOutcome, { kind: 'error' }>): string {
  if (outcome.timedOut) return 'timeout';
  if (!outcome.connected && NOT_CONNECTED.has(outcome.code)) return 'refused';
  return 'reset';
}

/** Retry only what cannot have been half-done: never after a timeout, and only with a body we can replay. */
function mayRetry(req: IncomingMessage, outcome: Extract<AttemptOutcome, { kind: 'error' }>, body: Buffer | undefined | null): boolean {
  if (outcome.timedOut || body === null) return false;
  const neverReached = !outcome.connected && NOT_CONNECTED.has(outcome.code);
  return neverReached || IDEMPOTENT.has(req.method ?? '');
}

/**
 * Buffers a small request body so an attempt can be repeated. Returns undefined for
 * no body, null for a body too large or of unknown length (streamed, not retried).
 */
async function readReplayableBody(req: IncomingMessage): Promise<Buffer | undefined | null> {
  const length = req.headers['content-length'];
  if (req.headers['transfer-encoding'] !== undefined) return null;
  if (length === undefined || length === '0') return undefined;
  if (Number(length) > REPLAYABLE_BODY_BYTES) return null;
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
