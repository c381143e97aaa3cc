/**
 * The backend's spans, when tracing is on: a SERVER span per API request
 * (continuing the proxy's traceparent: the backend sits behind it), with
 * INTERNAL spans for the wait for a compute slot and for the native call.
 * Health checks and scrapes are not traced: they would be most of the traces.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type HrTime, type Span, type Tracer } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import type { IncomingHttpHeaders } from 'node:http';
import { remoteParentOf } from '../lib/tracing/propagation.js';

const KNOWN_ROUTES = new Set(['/api/foo']);

export class RequestTrace {
  private readonly span: Span;
  private readonly context: Context;
  /**
   * Every span of the request is timed from this one anchor: the wall clock when it began, less
   * performance.now() then. A span left to anchor itself reads Date.now(), whose millisecond
   * steps made a native call that ended just before its request appear to end after it.
   */
  private readonly wallClockLeadMs: number;

  constructor(private readonly tracer: Tracer, method: string, path: string, headers: IncomingHttpHeaders) {
    const started = performance.now();
    this.wallClockLeadMs = Date.now() - started;
    // Only a known route names the span: a path the client chose must not become a span name.
    const route = KNOWN_ROUTES.has(path) ? path : undefined;
    this.span = tracer.startSpan(route ? `${method} ${route}` : method, {
      kind: SpanKind.SERVER, startTime: this.time(started), attributes: { 'http.request.method': method, 'url.path': path, ...(route && { 'http.route': route }) },
    }, remoteParentOf(headers));
    this.context = trace.setSpan(ROOT_CONTEXT, this.span);
  }

  /** The wait for a compute slot, from `startedAt` (performance.now()) until now, and how it ended. */
  slotWait(startedAt: number, outcome: 'acquired' | 'given_back' | 'queue_full' | 'client_gone'): void {
    if (!this.span.isRecording()) return;
    const span = this.tracer.startSpan('slot wait', { kind: SpanKind.INTERNAL, startTime: this.time(startedAt), attributes: { 'portico.slot.outcome': outcome } }, this.context);
    if (outcome !== 'acquired') span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
    span.end(this.time(performance.now()));
  }

  /** The native call `foo(val)`, from `startedAt` until now. */
  nativeCall(startedAt: number, val: number, error?: string): void {
    if (!this.span.isRecording()) return;
    const span = this.tracer.startSpan('foo', { kind: SpanKind.INTERNAL, startTime: this.time(startedAt), attributes: { 'code.function.name': 'foo', 'portico.val': val } }, this.context);
    if (error) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
    span.end(this.time(performance.now()));
  }

  end(status: number): void {
    if (this.span.isRecording()) {
      this.span.setAttribute('http.response.status_code', status);
      if (status >= 500) this.span.setStatus({ code: SpanStatusCode.ERROR });
    }
    this.span.end(this.time(performance.now()));
  }

  /** A performance.now() reading as a time on this request's one anchor. */
  private time(performanceMs: number): HrTime {
    return millisToHrTime(this.wallClockLeadMs + performanceMs);
  }
}

/** The requests traced: the inference API, not health checks and scrapes. */
export function isTraced(path: string): boolean {
  return path.startsWith('/api/');
}
