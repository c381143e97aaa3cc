/**
 * The spans of one exchange when tracing is on: a SERVER span for the request
 * (continuing the client's traceparent only from a trusted proxy, as its
 * X-Request-Id), an INTERNAL span for the time it waited in an upstream's
 * queue, and a CLIENT span per upstream attempt (retries and give-backs show as
 * more attempts), whose context goes upstream in traceparent. Attributes follow
 * the OpenTelemetry HTTP semantic conventions, plus Portico's own (`portico.*`);
 * they are set only on recorded spans, so an unsampled request pays for ids alone.
 */
import type { IncomingMessage } from 'node:http';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { remoteParentOf } from '../../lib/tracing/propagation.js';
import { KNOWN_METHODS } from './methods.js';

/** What the trace reads of an exchange (a subset of Exchange, so tests can build one). */
export interface TracedRequest {
  req: IncomingMessage;
  id: string;
  client: string;
  pathname: string;
  view: { fromTrusted: boolean };
}

export class ExchangeTrace {
  readonly span: Span;
  /** The server span as the parent of its children: made when the first child is (recorded spans only). */
  private parentContext: Context | undefined;
  private readonly method: string;

  constructor(private readonly tracer: Tracer, x: TracedRequest) {
    const { req } = x;
    this.method = KNOWN_METHODS.has(req.method ?? '') ? req.method! : '_OTHER';
    const parent = x.view.fromTrusted ? remoteParentOf(req.headers) : ROOT_CONTEXT;
    this.span = tracer.startSpan(this.method, { kind: SpanKind.SERVER }, parent);
    // Upstream gets the proxy's trace context (traceHeadersOf), never the client's: a trusted
    // parent's tracestate is carried by the span, an untrusted client's is dropped.
    if (req.headers.traceparent !== undefined) delete req.headers.traceparent;
    if (req.headers.tracestate !== undefined) delete req.headers.tracestate;
    if (this.span.isRecording()) this.span.setAttributes(requestAttributes(x, this.method));
  }

  private get context(): Context {
    return (this.parentContext ??= trace.setSpan(ROOT_CONTEXT, this.span));
  }

  get traceId(): string {
    return this.span.spanContext().traceId;
  }

  get spanId(): string {
    return this.span.spanContext().spanId;
  }

  /** The route that took the request: it names the span (`GET /api/`), as http.route does. */
  routed(path: string): void {
    if (!this.span.isRecording()) return;
    this.span.updateName(`${this.method} ${path}`);
    this.span.setAttribute('http.route', path);
  }

  /** A wait in `upstream`'s queue that just ended after `ms`, granted a server or shed. */
  queued(upstream: string, ms: number, shedReason?: string): void {
    if (!this.span.isRecording()) return;
    const now = performance.now();
    const span = this.tracer.startSpan('queue', { kind: SpanKind.INTERNAL, startTime: now - ms, attributes: { 'portico.upstream': upstream } }, this.context);
    if (shedReason) {
      span.setAttribute('portico.shed_reason', shedReason);
      span.setStatus({ code: SpanStatusCode.ERROR, message: `shed: ${shedReason}` });
    }
    span.end(now);
  }

  /** The request was refused without an upstream answer (queue full, queue timeout, no server up). */
  shed(reason: string): void {
    if (this.span.isRecording()) this.span.setAttribute('portico.shed_reason', reason);
  }

  /**
   * A CLIENT span for one attempt at `serverUrl` (none when the request is not sampled: its
   * children would be recorded by no one), and the traceparent (and tracestate) headers with
   * which the upstream continues the trace. `resends` counts the attempts before it
   * (http.request.resend_count).
   */
  attempt(serverUrl: string, path: string, resends: number): { span: Span | undefined; headers: Record<string, string> } {
    if (!this.span.isRecording()) return { span: undefined, headers: traceHeadersOf(this.span) };
    const span = this.tracer.startSpan(this.method, { kind: SpanKind.CLIENT }, this.context);
    const url = new URL(path, serverUrl);
    const attributes: Attributes = {
      'http.request.method': this.method, 'server.address': url.hostname, 'server.port': portOf(url), 'url.full': url.href, 'portico.server': serverUrl,
    };
    if (resends > 0) attributes['http.request.resend_count'] = resends;
    span.setAttributes(attributes);
    return { span, headers: traceHeadersOf(span) };
  }

  /** The exchange's end: what was answered, by whom. */
  end(status: number, completed: boolean, route: string, upstream: string, server: string, cache: string | undefined): void {
    const { span } = this;
    if (span.isRecording()) {
      const attributes: Attributes = { 'http.response.status_code': status, 'portico.route': route };
      if (upstream) attributes['portico.upstream'] = upstream;
      if (server) attributes['portico.server'] = server;
      if (cache) attributes['portico.cache'] = cache;
      if (!completed) attributes['portico.completed'] = false;
      // Server spans: 5xx is an error, 4xx the client's (semantic conventions, HTTP spans).
      if (status >= 500) {
        attributes['error.type'] = String(status);
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.setAttributes(attributes);
    }
    span.end();
  }
}

/**
 * traceparent (and tracestate) naming `span`, written straight into the upstream request's headers
 * (forward.ts): neither the propagator's setter nor a copy of the other headers per request.
 */
function traceHeadersOf(span: Span): Record<string, string> {
  const { traceId, spanId, traceFlags, traceState } = span.spanContext();
  const traceparent = `00-${traceId}-${spanId}-${(traceFlags & 1) === 1 ? '01' : '00'}`;
  return traceState === undefined ? { traceparent } : { traceparent, tracestate: traceState.serialize() };
}

/** Ends an attempt's span with the upstream's status, or with the error that ended it. */
export function endAttempt(span: Span, outcome: { status: number; givenBack?: boolean; bodyFailed?: boolean } | { error: string }): void {
  if (span.isRecording()) {
    if ('error' in outcome) {
      span.setAttribute('error.type', outcome.error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error });
    } else {
      span.setAttribute('http.response.status_code', outcome.status);
      if (outcome.givenBack) span.setAttribute('portico.given_back', true);
      else if (outcome.bodyFailed) {
        // The headers came, the body did not: the client's connection was cut.
        span.setAttribute('error.type', 'response_body_incomplete');
        span.setStatus({ code: SpanStatusCode.ERROR, message: 'the upstream stopped sending the body' });
      } else if (outcome.status >= 400) {
        // Client spans: 4xx and 5xx are both errors of the call.
        span.setAttribute('error.type', String(outcome.status));
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
    }
  }
  span.end();
}

function requestAttributes(x: TracedRequest, method: string): Attributes {
  const { req } = x;
  const socket = req.socket as typeof req.socket & { encrypted?: boolean };
  const host = req.headers.host ?? (req.headers[':authority'] as string | undefined) ?? '';
  const attributes: Attributes = {
    'http.request.method': method,
    'url.path': x.pathname,
    'url.scheme': socket.encrypted ? 'https' : 'http',
    'server.address': host.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1'),
    'server.port': socket.localPort ?? 0,
    'network.peer.address': socket.remoteAddress ?? '',
    'network.peer.port': socket.remotePort ?? 0,
    'network.protocol.version': req.httpVersionMajor === 2 ? '2' : req.httpVersion,
    'client.address': x.client,
    'portico.request_id': x.id,
  };
  if (method === '_OTHER') attributes['http.request.method_original'] = req.method ?? '';
  const agent = req.headers['user-agent'];
  if (agent) attributes['user_agent.original'] = agent;
  return attributes;
}

function portOf(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}
