/**
 * Tells whether a failed upstream request went out on a reused keep-alive
 * connection. Such a failure is most often the race every keep-alive proxy has:
 * the server closed the connection as idle while the request was on its way.
 * Node's http.Agent exposes this as `req.reusedSocket`; undici does not, so the
 * requests are counted per socket from undici's diagnostics channels (published
 * only while someone subscribes, and then once per request: a counter and a flag).
 */
import { subscribe } from 'node:diagnostics_channel';

const REQUESTS_SENT = Symbol('portico.requestsSent');
const REUSED = Symbol('portico.reusedConnection');

interface Tagged {
  [REQUESTS_SENT]?: number;
  [REUSED]?: boolean;
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
  });
  subscribe('undici:request:error', (message) => {
    const { request, error } = message as { request: Tagged; error: unknown };
    if (request[REUSED] && typeof error === 'object' && error !== null) (error as Tagged)[REUSED] = true;
  });
}

/** Whether `err` (from undici) failed a request sent on a connection that had carried an earlier one. */
export function onReusedConnection(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as Tagged)[REUSED] === true;
}
