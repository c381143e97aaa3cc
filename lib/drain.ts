/**
 * Graceful close of an HTTP server: stop accepting, answer what is in flight
 * with `Connection: close`, and close every connection that has no request in
 * flight — including ones opened but not yet used, which Node's own
 * closeIdleConnections() leaves open (they count as waiting for headers).
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Http2SecureServer, ServerHttp2Session } from 'node:http2';
import type { Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';

/** How long an idle connection of a draining server may still send one more request. */
const IDLE_CLOSE_GRACE_MS = 250;

/**
 * The socket's latest request's response, kept on the socket: with HTTP/1.1's
 * answers in order, the socket has a request in flight exactly while that
 * response is not closed. Storing it is all a request pays before a drain: a
 * 'close' listener on every response and a map of counts, as this kept before,
 * cost a cache hit 3 % of its CPU for a drain that comes once.
 */
const LATEST_RESPONSE = Symbol('latestResponse');
type SocketWithResponse = Socket & { [LATEST_RESPONSE]?: ServerResponse };

/** The response of the request an HTTP/1.1 connection has in flight, if it has one. */
function inFlight(socket: Socket): ServerResponse | undefined {
  const res = (socket as SocketWithResponse)[LATEST_RESPONSE];
  return res !== undefined && !res.closed ? res : undefined;
}

export interface Drainer {
  /**
   * Resolves when every connection is closed. Upgraded connections (WebSockets)
   * are closed too, unless `keepUpgraded`: a listener moved by a reload lets
   * them run to their natural end.
   */
  drain(options?: { keepUpgraded?: boolean }): Promise<void>;
}

export function trackConnections(server: Server | Http2SecureServer): Drainer {
  const sockets = new Set<Socket>();
  const sessions = new Set<ServerHttp2Session>();
  let draining = false;
  // A TLS server's requests arrive on the TLS socket, not the TCP socket its 'connection' event gives.
  server.on(server instanceof TlsServer ? 'secureConnection' : 'connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  // HTTP/2: the session multiplexes its requests; draining closes it gracefully (GOAWAY, open streams finish).
  server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    if (draining) session.close();
  });
  const upgraded = new Set<Socket>();
  server.on('upgrade', (req) => {
    upgraded.add(req.socket);
    req.socket.once('close', () => upgraded.delete(req.socket));
  });
  // Ahead of the server's handler: an answer it writes at once (a cache hit) must already say Connection: close.
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.httpVersionMajor === 2) return; // counted by its session
    const socket = req.socket;
    (socket as SocketWithResponse)[LATEST_RESPONSE] = res;
    if (!draining) return;
    res.shouldKeepAlive = false;
    closeWhenAnswered(socket, res);
  });
  /**
   * An idle keep-alive connection may have a request on its way that this process
   * has not read yet: closing it now would fail that request (the keep-alive race).
   * It gets a moment; a request that arrives is answered with Connection: close.
   */
  const closeIfStillIdle = (socket: Socket) => {
    const bytesRead = socket.bytesRead;
    setTimeout(() => {
      if (!socket.destroyed && inFlight(socket) === undefined && socket.bytesRead === bytesRead) socket.destroySoon();
    }, IDLE_CLOSE_GRACE_MS).unref();
  };
  /** Once `res` is answered, `socket` closes like an idle one, unless a later request is in flight on it by then. */
  const closeWhenAnswered = (socket: Socket, res: ServerResponse) => {
    res.once('close', () => { if (inFlight(socket) === undefined) closeIfStillIdle(socket); });
  };
  return {
    drain({ keepUpgraded = false } = {}) {
      draining = true;
      // A server fed by a PROXY protocol front never listened itself: wait for its connections instead.
      const closed = server.listening
        ? new Promise<void>((resolve) => closeKeepingIdle(server, resolve))
        : new Promise<void>((resolve) => {
          const check = () => { if (sockets.size === 0) resolve(); };
          for (const socket of sockets) socket.once('close', () => setImmediate(check));
          check();
        });
      for (const session of sessions) session.close();
      for (const socket of sockets) {
        if ((socket as Socket & { alpnProtocol?: string | false }).alpnProtocol === 'h2') continue;
        if (upgraded.has(socket)) {
          if (!keepUpgraded) socket.destroySoon();
          continue;
        }
        const res = inFlight(socket);
        if (res === undefined) {
          closeIfStillIdle(socket);
          continue;
        }
        // A request in flight whose answer has not started: the answer says Connection: close.
        if (!res.headersSent) res.shouldKeepAlive = false;
        // Its answer may have promised keep-alive: the client may be sending the next request already.
        closeWhenAnswered(socket, res);
      }
      return closed;
    },
  };
}

/**
 * http's close() (which also stops its timeout sweeps), without the idle connections
 * it closes at once: a client may be sending on one (the keep-alive race), so the
 * drain closes them itself, after a grace.
 */
function closeKeepingIdle(server: Server | Http2SecureServer, done: () => void): void {
  const withIdle = server as { closeIdleConnections?: () => void };
  const own = Object.getOwnPropertyDescriptor(withIdle, 'closeIdleConnections');
  withIdle.closeIdleConnections = () => {};
  try {
    server.close(() => done());
  } finally {
    if (own) Object.defineProperty(withIdle, 'closeIdleConnections', own);
    else delete withIdle.closeIdleConnections;
  }
}

/**
 * Calls `stop` once, on SIGTERM, SIGINT, or — for a process supervised over IPC —
 * when the master goes away (so a killed master never leaves orphans).
 */
export function onShutdownSignal(stop: (reason: string) => void): void {
  let stopped = false;
  const once = (reason: string) => {
    if (stopped) return;
    stopped = true;
    stop(reason);
  };
  process.on('SIGTERM', () => once('SIGTERM'));
  process.on('SIGINT', () => once('SIGINT'));
  if (process.connected) process.on('disconnect', () => once('master gone'));
}

/** Drains, then runs `cleanup` (flushing spans, say) and exits 0; exits 1 if it all takes longer than `timeoutMs`. */
export function drainAndExit(drainer: Drainer, log: { info(msg: string): void; warn(msg: string): void }, timeoutMs: number, cleanup?: () => void | Promise<void>): void {
  setTimeout(() => {
    log.warn('drain timed out, exiting');
    process.exit(1);
  }, timeoutMs).unref();
  void drainer.drain().then(async () => {
    await cleanup?.();
    log.info('drained, exiting');
    process.exit(0);
  });
}
