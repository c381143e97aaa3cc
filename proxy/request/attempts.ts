/**
 * An upstream exchange with its retries, read top to bottom: take a server of
 * the upstream (at once, or after the queue) → send → after a stale keep-alive
 * connection, once more on a fresh one → record the attempt with the balancer →
 * on failure, try another server when that is safe and the budget allows.
 */
import type { ClientLeft } from '../../lib/client-left.js';
import { GIVE_BACK_OFFER, NOT_STARTED } from '../../lib/give-back.js';
import type { Logger } from '../../lib/log.js';
import { hashKeyOf } from '../balancer/hash-key.js';
import { type AcquireContext, ShedError, type ServerState, type Upstream } from '../balancer/upstream.js';
import type { Fetched } from '../forward/fetched.js';
import type { AttemptOptions, AttemptOutcome, Forwarder, OutgoingRequest } from '../forward/forward.js';
import type { RequestBody } from '../forward/request-body.js';
import type { ProxyMetrics } from '../metrics.js';
import type { Exchange } from './exchange.js';
import { endAttempt } from './trace.js';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

type Failure = Extract<AttemptOutcome, { kind: 'error' }>;

export type FetchWithRetries = (x: Exchange, outgoing: OutgoingRequest, upstream: Upstream, body: RequestBody, clientGone: ClientLeft) => Promise<Fetched>;

export function createAttempts(forwarder: Forwarder, metrics: ProxyMetrics, log: Logger): FetchWithRetries {
  /**
   * Sends `outgoing` to a server of `upstream`, retrying as above. A response's
   * server is released when its body has been read.
   */
  return async function fetchWithRetries(x, outgoing, upstream, body, clientGone) {
    const { retries, timeouts } = upstream.config;
    const method = x.req.method ?? 'GET';
    // The cost key is the target as the upstream sees it: its cost is learnt from earlier answers (cost-model.ts).
    const ctx: AcquireContext = { hashKey: hashKeyOf(x.req, x.client, upstream.config.hash.key), queuedMs: undefined, costKey: `${method} ${outgoing.path}` };
    const tried = new Set<ServerState>();
    upstream.retryBudget.recordRequest();

    let givenBack = 0;
    /** Attempts sent so far, give-backs included (a span's http.request.resend_count). */
    let sent = 0;
    for (let attempt = 0; ; attempt++) {
      let server: ServerState;
      try {
        server = await upstream.acquire(ctx, clientGone, tried, givenBack > 0);
      } catch (err) {
        if (!(err instanceof ShedError)) throw err;
        metrics.shed.inc({ upstream: x.upstream, reason: err.reason });
        if (x.trace) {
          if (ctx.queuedMs !== undefined) x.trace.queued(x.upstream, ctx.queuedMs, err.reason);
          x.trace.shed(err.reason);
        }
        if (err.reason === 'client_gone') return { kind: 'gone' }; // nobody to answer; free the connection
        if (tried.size > 0) return { kind: 'problem', status: 502, detail: `every server of upstream "${x.upstream}" tried failed this request` };
        return { kind: 'problem', status: 503, detail: `${err.message}; retry after 1 s`, headers: { 'Retry-After': '1' } };
      }
      if (x.trace && ctx.queuedMs !== undefined) {
        x.trace.queued(x.upstream, ctx.queuedMs);
        ctx.queuedMs = undefined;
      }
      tried.add(server);
      x.server = server.url;
      x.upstreamAddr = x.upstreamAddr ? `${x.upstreamAddr}, ${server.url}` : server.url;
      const options = attemptOptionsOf(upstream);
      // Object.assign, not a spread with an extra key: that took 1 µs on Node 20 (a spread copy grows slowly).
      const headers = offersGiveBack(server, body, givenBack) ? Object.assign({}, x.view.upstreamHeaders, OFFER_GIVE_BACK) : x.view.upstreamHeaders;
      // Each attempt is a span of its own, and the upstream continues the trace from it.
      const traced = x.trace?.attempt(server.url, outgoing.path, sent++);
      let outcome = await forwarder.send(outgoing, server.url, options, headers, clientGone, body, traced?.headers);
      if (outcome.kind === 'error' && outcome.staleConnection && mayResend(method, body)) {
        // The server closed a keep-alive connection as the request went out on it: not the
        // server's fault, so once more on a new connection to the same server, counted
        // neither as a failure nor against the retry budget (HAProxy's http-reuse safe).
        metrics.staleConnectionResends.inc({ upstream: x.upstream });
        traced?.span?.addEvent('resent on a fresh connection', { 'error.type': outcome.code });
        const again = await forwarder.send(outgoing, server.url, { ...options, freshConnection: true }, headers, clientGone, body, traced?.headers);
        // The first attempt was sent: a refused resend must not make it look never sent.
        outcome = again.kind === 'error' ? { ...again, sent: true } : again;
      }
      if (outcome.kind === 'response' && outcome.status === 503 && outcome.headers[NOT_STARTED] !== undefined) {
        // Handed back unstarted: sent again at once, to a free server (issue 22). Not a failure, not a retry.
        outcome.body.resume();
        if (traced?.span) endAttempt(traced.span, { status: 503, givenBack: true });
        upstream.giveBack(server, ctx);
        tried.delete(server);
        givenBack++;
        attempt--;
        continue;
      }
      if (outcome.kind === 'response') {
        upstream.recordAttempt(server, outcome, ctx);
        if (outcome.status === 502 || outcome.status === 504) {
          log.warn({ id: x.id, upstream: x.upstream, server: server.url, status: outcome.status }, 'upstream attempt failed');
        }
        outcome.whenDone(() => upstream.release(server, ctx));
        if (traced?.span) {
          const { span } = traced, response = outcome;
          outcome.whenDone(() => endAttempt(span, { status: response.status, bodyFailed: response.failed }));
        }
        x.answered = outcome;
        return { kind: 'response', response: outcome };
      }
      upstream.release(server, ctx);
      if (traced?.span) endAttempt(traced.span, { error: outcome.kind === 'client-gone' ? 'client_gone' : outcome.code });
      if (outcome.kind === 'client-gone') return { kind: 'gone' };

      if (body.kind === 'streamed' && body.tooLarge()) {
        metrics.rejected.inc({ reason: 'body_too_large' });
        return { kind: 'problem', status: 413, detail: `the request body is larger than this route's limit`, close: true };
      }
      upstream.recordAttempt(server, outcome, ctx);
      log.warn({ id: x.id, upstream: x.upstream, server: server.url, code: outcome.code, error: outcome.message }, 'upstream attempt failed');
      if (outcome.timedOut) return { kind: 'problem', status: 504, detail: `upstream server did not answer within ${timeouts.response} ms` };
      if (!mayRetry(method, outcome, body) || attempt >= retries.attempts) {
        return { kind: 'problem', status: 502, detail: `upstream server failed (${outcome.code})` };
      }
      if (!upstream.retryBudget.tryRetry()) {
        metrics.retryBudgetExhausted.inc({ upstream: x.upstream });
        return { kind: 'problem', status: 502, detail: `upstream server failed (${outcome.code}); the retry budget of upstream "${x.upstream}" is spent` };
      }
      metrics.retries.inc({ upstream: x.upstream });
    }
  };
}

const OFFER_GIVE_BACK = { [GIVE_BACK_OFFER]: '1' };

/** A request is handed back at most this often; after that it waits where it is sent. */
const MAX_GIVE_BACKS = 3;

/**
 * Offer a give-back only to Portico backends: the local pool's, and servers that said what
 * they can take (their /readyz reports slots); others never see the header. Only for requests that
 * can be sent again whole, and only a few times per request.
 */
function offersGiveBack(server: ServerState, body: RequestBody, givenBack: number): boolean {
  return (server.local || server.reportedCap !== undefined) && body.kind !== 'streamed' && givenBack < MAX_GIVE_BACKS;
}

const attemptOptions = new WeakMap<Upstream['config'], AttemptOptions>();

/** How every attempt to the upstream connects: one object per config, which the forwarder keys its pools by. */
function attemptOptionsOf(upstream: Upstream): AttemptOptions {
  let options = attemptOptions.get(upstream.config);
  if (!options) {
    const { timeouts, tls } = upstream.config;
    options = { connectTimeoutMs: timeouts.connect, responseTimeoutMs: timeouts.response, tls };
    attemptOptions.set(upstream.config, options);
  }
  return options;
}

/**
 * Resend after a stale keep-alive connection only what is safe to send twice: an
 * idempotent request with a body we can replay. A POST may have reached the server
 * before the connection broke (even a failed write can follow a partial one).
 */
function mayResend(method: string, body: RequestBody): boolean {
  return body.kind !== 'streamed' && IDEMPOTENT.has(method);
}

/** Retry only what cannot have been half-done: never after a timeout, and only with a body we can replay. */
function mayRetry(method: string, outcome: Failure, body: RequestBody): boolean {
  if (outcome.timedOut || body.kind === 'streamed') return false;
  return !outcome.sent || IDEMPOTENT.has(method);
}
