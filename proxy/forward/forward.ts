/**
 * Sends one attempt of a request to one upstream server and says how it ended:
 * a response (being streamed to the client), an error, or the client gone.
 * undici's Pool, one per server origin, over keep-alive connections, through
 * its dispatch API (upstream-response.ts): a minimal proxy on dispatch carried
 * 1.25 × the requests of one on `Pool.request`, itself 1.4 × http-proxy-3's
 * (docs/decisions.md, `npm run bench:hot-path`).
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { Client, Pool } from 'undici';
import { stripHopByHop } from './hop-by-hop.js';
import type { ClientLeft } from '../../lib/client-left.js';
import type { UpstreamTls } from '../../lib/config/load.js';
import type { RequestBody } from './request-body.js';
import { connectOptions, tlsIdentity } from './upstream-tls.js';
import { onReusedConnection, trackReusedConnections } from './reused-connection.js';
import { type DispatchError, ResponseHandler, UpstreamResponse } from './upstream-response.js';

export { UpstreamResponse } from './upstream-response.js';

/** What the forwarder sends: the client's method, target and headers (or the cache's changes to them). */
export interface OutgoingRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
}

export type AttemptOutcome =
  | UpstreamResponse
  | {
    kind: 'error'; code: string; message: string; timedOut: boolean;
    /** The request may have reached the server (false: the connection was never made, so any method may go elsewhere). */
    sent: boolean;
    /**
     * The connection was a reused keep-alive one and broke before any response came:
     * most likely the server closed it as idle while the request was on its way.
     */
    staleConnection: boolean;
  }
  | { kind: 'client-gone' };

export interface AttemptOptions {
  /** How long connecting may take; past it the attempt fails as never sent (and may go elsewhere). */
  connectTimeoutMs: number;
  /** How long the server may take to send response headers (and then between body chunks) before the client gets 504. */
  responseTimeoutMs: number;
  /** For https:// servers: CA, SNI name, client certificate, verification. */
  tls?: UpstreamTls;
  /** Send on a new connection of its own, not a pooled one (the resend after a stale keep-alive connection). */
  freshConnection?: boolean;
}

/** Errors raised before the request could reach the server. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT']);
/** How a connection closed under a request shows: the peer's FIN or RST, or a write into a closed socket. */
const CONNECTION_LOST = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

/**
 * Idle upstream connections close after this long, unless the server advertises a
 * shorter `Keep-Alive: timeout` (then that, less KEEP_ALIVE_MARGIN_MS). Servers that
 * advertise nothing (nginx, gunicorn) close theirs after 2 s (gunicorn) to 75 s (nginx):
 * a short idle time makes the race with their close rarer; the resend on a fresh
 * connection covers the rest.
 */
const KEEP_ALIVE_IDLE_MS = 4000;
/** Closed this long before the server's advertised timeout (undici's default, 2 s, would never reuse a connection of a 1 s server). */
const KEEP_ALIVE_MARGIN_MS = 500;

export class Forwarder {
  private readonly pools = new Map<string, Pool>();
  /** The pools by the options object (one per upstream config, attempts.ts) and origin: no key string built per request. */
  private poolsByOptions = new WeakMap<AttemptOptions, Map<string, Pool>>();
  /** The one-request connections of resends after a stale keep-alive connection, until their responses are read. */
  private readonly freshClients = new Set<Client>();

  constructor() {
    trackReusedConnections();
  }

  /**
   * Sends `req` to `target` (an origin) with `body` (see request-body.ts): a
   * buffered body can be sent again; a streamed one only once. The caller reads
   * or destroys the response body (pipeToClient, or the cache's tee).
   * `clientGone` aborts when the client leaves before its response is complete.
   * `traceHeaders`: the attempt's traceparent (and tracestate), when tracing is on.
   */
  send(req: OutgoingRequest, target: string, options: AttemptOptions, extraHeaders: Record<string, string>, clientGone: ClientLeft, body: RequestBody, traceHeaders?: Record<string, string>): Promise<AttemptOutcome> {
    const fresh = options.freshConnection ? this.freshClient(target, options) : undefined;
    return new Promise((resolve) => {
      const handler = new ResponseHandler(performance.now(), clientGone, (outcome) => {
        if (outcome instanceof UpstreamResponse) {
          if (fresh) outcome.whenDone(() => this.closeFresh(fresh));
          return resolve(outcome);
        }
        if (fresh) this.closeFresh(fresh, true);
        resolve(failure(outcome, clientGone));
      });
      (fresh ?? this.pool(target, options)).dispatch({
        method: req.method as 'GET',
        path: req.path,
        headers: requestHeaders(req.headers, extraHeaders, body.kind === 'buffered', traceHeaders),
        body: body.kind === 'buffered' ? body.bytes : body.kind === 'streamed' ? body.stream : null,
        headersTimeout: options.responseTimeoutMs,
        bodyTimeout: options.responseTimeoutMs,
      }, handler);
    });
  }

  /** A one-request connection, closed when its response has been read (or by close()). */
  private freshClient(origin: string, options: AttemptOptions): Client {
    const client = new Client(origin, clientOptions(options));
    this.freshClients.add(client);
    return client;
  }

  private closeFresh(client: Client, destroy = false): void {
    this.freshClients.delete(client);
    void (destroy ? client.destroy() : client.close()).catch(() => {});
  }

  close(): void {
    for (const pool of this.pools.values()) void pool.close();
    this.pools.clear();
    this.poolsByOptions = new WeakMap();
    for (const client of [...this.freshClients]) this.closeFresh(client);
  }

  /**
   * One keep-alive pool per server origin (and TLS settings). A capped server gets at most
   * its cap of connections; an uncapped one (not a Portico backend) as many as requests are
   * in flight to it, as nginx opens them without `keepalive` limits.
   */
  private pool(origin: string, options: AttemptOptions): Pool {
    let byOrigin = this.poolsByOptions.get(options);
    if (!byOrigin) this.poolsByOptions.set(options, (byOrigin = new Map()));
    let pool = byOrigin.get(origin);
    if (pool) return pool;
    // A reloaded upstream with the same settings keeps its connections.
    const key = `${origin} ${options.connectTimeoutMs} ${tlsIdentity(options.tls)}`;
    pool = this.pools.get(key);
    if (!pool) {
      pool = new Pool(origin, {
        ...clientOptions(options),
        keepAliveTimeout: KEEP_ALIVE_IDLE_MS, keepAliveTimeoutThreshold: KEEP_ALIVE_MARGIN_MS,
      });
      this.pools.set(key, pool);
    }
    byOrigin.set(origin, pool);
    return pool;
  }
}

/** How every connection to `options`' server is made: one request at a time, the connect timeout, its TLS. */
function clientOptions(options: AttemptOptions) {
  return { connect: { timeout: options.connectTimeoutMs, ...connectOptions(options.tls) }, pipelining: 1 };
}

/** How an attempt that got no response ended: the client gone, or the error, classified for retries and health. */
function failure(err: DispatchError, clientGone: ClientLeft): AttemptOutcome {
  if (clientGone.aborted) return { kind: 'client-gone' };
  const code = err.code === 'UND_ERR_CONNECT_TIMEOUT' ? 'ECONNTIMEOUT' : (err.code ?? 'EUNKNOWN');
  const timedOut = err.code === 'UND_ERR_HEADERS_TIMEOUT';
  const staleConnection = !timedOut && CONNECTION_LOST.has(err.code ?? '') && onReusedConnection(err);
  return { kind: 'error', code: timedOut ? 'ETIMEDOUT' : code, message: err.message, sent: !NOT_CONNECTED.has(err.code ?? ''), timedOut, staleConnection };
}

/**
 * Streams `response` to the client, headers first (plus `extra` ones). A
 * backend that dies mid-body closes the client's connection; a client that
 * leaves stops the backend's body (the request's ClientLeft aborts it).
 */
export function pipeToClient(response: UpstreamResponse, res: ServerResponse, extra?: Record<string, string>): void {
  res.writeHead(response.status, extra ? { ...response.headers, ...extra } : response.headers);
  response.pipeTo(res);
}

/** The client's headers minus hop-by-hop ones, plus ours and the trace context's; a buffered body gets its length from undici. */
function requestHeaders(headers: IncomingHttpHeaders, extra: Record<string, string>, buffered: boolean, trace: Record<string, string> | undefined): Record<string, string | string[]> {
  const out = stripHopByHop(headers);
  // HTTP/2 pseudo-headers (:method, :path, ...): upstreams speak HTTP/1.1. Checked by one key so HTTP/1.1 pays nothing.
  if (':method' in out) for (const name of Object.keys(out)) if (name.startsWith(':')) delete out[name];
  if ('expect' in out) delete out.expect; // Node answered 100-continue already; undici refuses to send Expect
  if (buffered) delete out['content-length'];
  return Object.assign(out, extra, trace);
}
