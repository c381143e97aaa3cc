/**
 * One request on its way through the proxy: who the client is (after trusted
 * proxies and the PROXY protocol), its request id, the route, upstream and
 * server that took it, and what the cache did; the access log and the request
 * metrics read it when the response ends.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClientLeft } from '../../lib/client-left.js';
import type { CacheStatus } from '../cache/http-cache.js';
import type { UpstreamResponse } from '../forward/upstream-response.js';
import { proxiedAddressOf } from '../listen/proxy-protocol.js';
import { clientView, type ClientView, type TrustedProxies } from './forwarded.js';
import type { EditableResponse } from './edited-response.js';
import type { ExchangeTrace } from './trace.js';
import { countBody, type BodyCount } from './body-count.js';
import { tlsInfoOf, type TlsInfo } from './tls-info.js';

export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse & EditableResponse;
  id: string;
  /** The real client's address, after trusted-proxy resolution. */
  client: string;
  /** Who the client is, and the forwarding headers for the upstream (built when first needed). */
  view: ClientView;
  /** The request target as the client sent it (before a route rewrote it), for the access log. */
  target: string;
  /** The target's path, without the query. */
  pathname: string;
  started: number;
  /** The client socket's bytesWritten when the request began (the response's size is the growth); read only for the access log. */
  bytesBefore: number;
  /** HTTP/2 only, when the access log is on: the response body's bytes as written (a stream has no bytesWritten of its own). */
  bodyCount: BodyCount | undefined;
  /** The client connection's TLS version and cipher, for the access log: read when the request begins, as an HTTP/2 stream loses its connection when it closes. */
  tls: TlsInfo | undefined;
  route: string;
  upstream: string;
  server: string;
  /** Every server tried, comma-separated, for the access log (nginx's $upstream_addr). */
  upstreamAddr: string;
  /** The upstream response being delivered, for the access log's upstream timings. */
  answered: UpstreamResponse | undefined;
  /** What the route's cache did (X-Cache), when it has one. */
  cache?: CacheStatus;
  /** Whether its access-log line is written (the config's `access_log` when it began). */
  accessLog: boolean;
  /** Its spans, when tracing is on. */
  trace: ExchangeTrace | undefined;
  /** Set while the upstream is asked: fired when the client leaves before its response is complete. */
  left?: ClientLeft;
}

/** Who is asking: the client view of `req` on its connection, as the request path and WebSocket upgrades both need it. */
export function clientOf(req: IncomingMessage, trusted: TrustedProxies): ClientView {
  const socket = req.socket as typeof req.socket & { encrypted?: boolean };
  // Behind an L4 balancer speaking the PROXY protocol, the client is who its header names.
  const peer = proxiedAddressOf(socket)?.address ?? socket.remoteAddress ?? '';
  return clientView(req.headers, { remoteAddress: peer, localPort: socket.localPort ?? 0, encrypted: socket.encrypted === true }, trusted);
}

export function startExchange(req: IncomingMessage, res: ServerResponse, trusted: TrustedProxies, accessLog: boolean): Exchange {
  const view = clientOf(req, trusted);
  const target = req.url ?? '/';
  const query = target.indexOf('?');
  const h2 = req.httpVersionMajor === 2;
  return {
    req, res, id: view.requestId, client: view.client, view, target, pathname: query < 0 ? target : target.slice(0, query),
    started: performance.now(), bytesBefore: accessLog && !h2 ? req.socket.bytesWritten : 0,
    bodyCount: accessLog && h2 ? countBody(res) : undefined, tls: accessLog ? tlsInfoOf(req) : undefined, route: 'none', upstream: '', server: '', upstreamAddr: '', answered: undefined, cache: undefined, accessLog, trace: undefined, left: undefined,
  };
}
