/**
 * W3C trace context (traceparent, tracestate) in and out of HTTP headers,
 * through the SDK's own propagator.
 */
import { context, defaultTextMapGetter, defaultTextMapSetter, ROOT_CONTEXT, trace, type Context, type Span } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { IncomingHttpHeaders } from 'node:http';

const propagator = new W3CTraceContextPropagator();

/** The context a request's traceparent names, or the root context when it names none (or an invalid one). */
export function remoteParentOf(headers: IncomingHttpHeaders): Context {
  if (headers.traceparent === undefined) return ROOT_CONTEXT;
  return propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
}

/** Sets traceparent (and tracestate, when there is one) on `headers` for a request made within `span`. */
export function injectInto(headers: Record<string, string>, span: Span): void {
  propagator.inject(trace.setSpan(context.active(), span), headers, defaultTextMapSetter);
}

/** The trace id of a traceparent header, when it is valid (for the access log when tracing is off). */
export function traceIdOf(traceparent: string | string[] | undefined): string | undefined {
  if (traceparent === undefined) return undefined;
  const ctx = trace.getSpanContext(propagator.extract(ROOT_CONTEXT, { traceparent }, defaultTextMapGetter));
  return ctx?.traceId;
}
