/**
 * Tells whether a failed upstream request met the race every keep-alive proxy
 * has: the server closed a reused connection as idle while the request was on
 * its way, so the connection broke right after the request went out. Node's
 * http.Agent exposes the first half as `req.reusedSocket`; undici does not, so
 * requests are counted per socket from undici's diagnostics channels (published
 * only while someone subscribes, and then once per request: a counter, a flag
 * and a time). A connection that breaks later (a server that crashed while
 * computing) is a failure of the server, not this race.
 */
import { subscribe } from 'node:diagnostics_channel';

const REQUESTS_SENT = Symbol('portico.requestsSent');
const REUSED = Symbol('portico.reusedConnection');
const SENT_AT = Symbol('portico.sentAt');

/**
 * The race shows within a round trip of sending: the peer's FIN or RST was already on
 * its way. A second covers any network a proxy speaks HTTP/1.1 over, and excludes a
 * server that died while computing an answer.
 */
const RACE_WINDOW_MS = 1000;

interface Tagged {
  [REQUESTS_SENT]?: number;
  [REUSED]?: boolean;
  [SENT_AT]?: number;
}

let subscribed = false;

/** Starts counting (idempotent): call before the first request. */
export function trackReusedConnections(): void {
  if (subscribed) return;
  subscribed = true;
  subscribe('undici:client:sendHeaders', (message) => {
    const { request, socket } = message as { request: Tagged; socket: Tagged };
    const sent = socket[REQUESTS_SENT] ?? 0;
    socket[REQUESTS_SENT] = sent + 1;
    request[REUSED] = sent > 0;
    if (sent > 0) request[SENT_AT] = performance.now();
  });
  subscribe('undici:request:error', (message) => {
    const { request, error } = message as { request: Tagged; error: unknown };
    if (!request[REUSED] || typeof error !== 'object' || error === null) return;
    if (performance.now() - request[SENT_AT]! <= RACE_WINDOW_MS) (error as Tagged)[REUSED] = true;
  });
}

/** Whether `err` (from undici) broke a request within moments of sending it on a connection that had carried an earlier one. */
export function onReusedConnection(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as Tagged)[REUSED] === true;
}
