/**
 * WebSocket upgrades (and no other kind): routed like any request, sent to a
 * server that is up (in-flight caps are for calls that compute, not for open
 * sockets), with the same forwarding headers, then piped both ways by
 * http-proxy-3 until either side closes or the connection idles out.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { createProxyServer } from 'http-proxy-3';
import { problem, PROBLEM_CONTENT_TYPE } from '../../lib/problem.js';
import type { Logger } from '../../lib/log.js';
import { clientOf } from './exchange.js';
import type { HandlerState } from './handler.js';
import { hashKeyOf } from '../balancer/hash-key.js';
import type { ProxyMetrics } from '../metrics.js';

export function createUpgradeHandler(getState: () => HandlerState, metrics: ProxyMetrics, log: Logger, idleTimeoutMs: () => number) {
  return function upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const { router, chains, upstreams, trustedProxies } = getState();
    // Only WebSockets are tunnelled. An h2c (or any other) upgrade passed to a backend would open a raw
    // channel to it past every rule of the proxy: the "h2c smuggling" attack.
    if (!/^\s*websocket\s*$/i.test(req.headers.upgrade ?? '')) {
      metrics.rejected.inc({ reason: 'upgrade' });
      return refuse(socket, 400, `only WebSocket upgrades are proxied, not "${(req.headers.upgrade ?? '').slice(0, 40)}"; send the request without Upgrade (HTTP/2 is offered on the TLS listener)`);
    }
    const view = clientOf(req, trustedProxies);
    const route = router.match((req.url ?? '/').split('?', 1)[0]!, req.headers.host);
    const upstream = route?.upstream !== undefined ? upstreams.get(route.upstream) : undefined;
    if (!route || !upstream) return refuse(socket, 404, 'no upstream route matches this upgrade request');
    const labels = { route: route.name, upstream: upstream.config.name };
    const server = upstream.pickForUpgrade({ hashKey: hashKeyOf(req, view.client, upstream.config.hash.key) });
    if (!server) {
      metrics.upgrades.inc({ ...labels, result: 'no_server' });
      return refuse(socket, 503, `no server of upstream "${upstream.config.name}" is up`, { 'Retry-After': '1' });
    }
    chains.get(route)!.prepareUpgrade(req); // the route's target rewrite and request header edits, as for its requests
    Object.assign(req.headers, view.upstreamHeaders);
    socket.setTimeout(idleTimeoutMs(), () => socket.destroy());
    let open = false;
    // One small ProxyServer per upgrade: its 'open' event does not say which request it belongs to.
    const proxy = createProxyServer({ ws: true, xfwd: false });
    const tls = upstream.config.tls;
    const url = new URL(server.url);
    // http-proxy takes TLS settings on the target (SNI is the server's host here; servername is not passed through).
    const target = tls ? { protocol: url.protocol, host: url.hostname, hostname: url.hostname, port: Number(url.port || 443), ca: tls.ca, cert: tls.cert, key: tls.key } : server.url;
    proxy.ws(req, socket, head, { target, secure: tls?.rejectUnauthorized ?? true }, (err: Error) => {
      metrics.upgrades.inc({ ...labels, result: 'error' });
      log.warn({ id: view.requestId, server: server.url, error: err.message }, 'upgrade failed');
      if (!open) refuse(socket, 502, `upstream server failed the upgrade (${(err as NodeJS.ErrnoException).code ?? err.message})`);
    });
    proxy.once('open', (upstreamSocket) => {
      open = true;
      metrics.upgrades.inc({ ...labels, result: 'open' });
      metrics.websockets.inc(labels);
      upstreamSocket.setTimeout(idleTimeoutMs(), () => upstreamSocket.destroy());
      socket.once('close', () => metrics.websockets.dec(labels));
    });
  };
}

function refuse(socket: Socket, status: number, detail: string, headers: Record<string, string> = {}): void {
  if (!socket.writable) return void socket.destroy();
  const body = JSON.stringify(problem(status, detail));
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  socket.end(`HTTP/1.1 ${status} ${problem(status, '').title}\r\nConnection: close\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}
