/**
 * W3C trace context (traceparent, tracestate) read from HTTP headers through
 * the SDK's own propagator (proxy/request/trace.ts writes it).
 */
import { defaultTextMapGetter, ROOT_CONTEXT, type Context } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { IncomingHttpHeaders } from 'node:http';

const propagator = new W3CTraceContextPropagator();

/** The context a request's traceparent names, or the root context when it names none (or an invalid one). */
export function remoteParentOf(headers: IncomingHttpHeaders): Context {
  if (headers.traceparent === undefined) return ROOT_CONTEXT;
  return propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
}

/** `00-<trace id>-<parent id>-<flags>`; an all-zero trace id is invalid (W3C trace context §3.2.2.3). */
const TRACEPARENT = /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}/;
const ZERO_TRACE = '0'.repeat(32);

/** The trace id of a traceparent header, when it is valid (for the access log when tracing is off). */
export function traceIdOf(traceparent: string | string[] | undefined): string | undefined {
  const id = TRACEPARENT.exec(Array.isArray(traceparent) ? traceparent[0] ?? '' : traceparent ?? '')?.[1];
  return id === ZERO_TRACE ? undefined : id;
}
