import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { HeadSampledTracer, randomId } from './head-sampled-tracer.js';

/** A tracer whose recorded spans end in `ended`. */
function tracer(ratio: number): HeadSampledTracer & { ended: ReadableSpan[] } {
  const ended: ReadableSpan[] = [];
  const origin = { sink: { onEnd: (span: ReadableSpan) => void ended.push(span) }, resource: resourceFromAttributes({ 'service.name': 'test' }), scope: { name: 'portico', version: '0.1.0' } };
  return Object.assign(new HeadSampledTracer(origin, ratio), { ended });
}

const parent = (flags: TraceFlags) => trace.setSpanContext(ROOT_CONTEXT, {
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: flags, isRemote: true, traceState: new TraceState('vendor=x'),
});

describe('HeadSampledTracer', () => {
  it('records no new trace at ratio 0: valid ids, the sampled flag off, nothing kept', () => {
    const t = tracer(0);
    const span = t.startSpan('GET', { attributes: { a: 1 } });
    const { traceId, spanId, traceFlags } = span.spanContext();
    expect(span.isRecording()).toBe(false);
    expect(traceId).toMatch(/^[\da-f]{32}$/);
    expect(spanId).toMatch(/^[\da-f]{16}$/);
    expect(traceFlags).toBe(TraceFlags.NONE);
    span.setAttribute('b', 2).updateName('other');
    span.end();
    expect(t.ended).toHaveLength(0);
    expect((span as unknown as ReadableSpan).attributes).toEqual({});
  });

  it('records every new trace at ratio 1, each span once', () => {
    const t = tracer(1);
    for (let i = 0; i < 100; i++) {
      const span = t.startSpan('GET');
      span.end();
      span.end();
    }
    expect(t.ended).toHaveLength(100);
  });

  it('samples about `ratio` of new traces', () => {
    const t = tracer(0.25);
    for (let i = 0; i < 20_000; i++) t.startSpan('GET').end();
    // Binomial(20000, 0.25): the standard deviation is 61, so ±600 never fails by chance.
    expect(t.ended.length).toBeGreaterThan(5000 - 600);
    expect(t.ended.length).toBeLessThan(5000 + 600);
  });

  it('continues an unsampled parent unsampled: its trace id and tracestate, a new span id', () => {
    const t = tracer(1);
    const span = t.startSpan('GET', {}, parent(TraceFlags.NONE));
    span.end();
    expect(t.ended).toHaveLength(0);
    expect(span.spanContext()).toMatchObject({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', traceFlags: TraceFlags.NONE });
    expect(span.spanContext().spanId).not.toBe('00f067aa0ba902b7');
    expect(span.spanContext().traceState?.serialize()).toBe('vendor=x');
  });

  it('records the child of a sampled parent whatever the ratio, naming its parent', () => {
    const t = tracer(0);
    const span = t.startSpan('GET', { kind: SpanKind.SERVER }, parent(TraceFlags.SAMPLED));
    span.end();
    expect(t.ended).toHaveLength(1);
    expect(t.ended[0]!.parentSpanContext).toMatchObject({ spanId: '00f067aa0ba902b7', isRemote: true });
    expect(span.spanContext()).toMatchObject({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', traceFlags: TraceFlags.SAMPLED });
    expect(span.spanContext().traceState?.serialize()).toBe('vendor=x');
  });

  it('gives recorded and unrecorded spans one shape (one class, the same fields in the same order)', () => {
    const recorded = tracer(1).startSpan('GET');
    const unrecorded = tracer(0).startSpan('GET');
    expect(Object.getPrototypeOf(recorded)).toBe(Object.getPrototypeOf(unrecorded));
    expect(Object.keys(recorded)).toEqual(Object.keys(unrecorded));
  });

  it('keeps what the SDK keeps of a recorded span, and the OTLP serializer reads it', () => {
    const t = tracer(1);
    const before = Date.now();
    const server = t.startSpan('GET', { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'GET', 'skipped': undefined } });
    server.updateName('GET /api/');
    server.setAttributes({ 'server.port': 8080, 'nothing': null as unknown as string });
    server.addEvent('resend', { attempt: 2 });
    server.setStatus({ code: SpanStatusCode.ERROR, message: 'shed' });
    server.setStatus({ code: SpanStatusCode.UNSET });
    const queue = t.startSpan('queue', { startTime: performance.now() - 5 }, trace.setSpan(ROOT_CONTEXT, server));
    queue.end();
    server.end();
    const [q, s] = t.ended as [ReadableSpan, ReadableSpan];
    expect(s).toMatchObject({ name: 'GET /api/', kind: SpanKind.SERVER, attributes: { 'http.request.method': 'GET', 'server.port': 8080 }, status: { code: SpanStatusCode.ERROR, message: 'shed' }, ended: true });
    expect(Object.keys(s.attributes)).toEqual(['http.request.method', 'server.port']);
    expect(s.events.map((e) => [e.name, e.attributes])).toEqual([['resend', { attempt: 2 }]]);
    expect(q.parentSpanContext?.spanId).toBe(s.spanContext().spanId);
    // A start given as performance.now() is on the wall clock, 5 ms before the queue span's end.
    const startMs = q.startTime[0] * 1e3 + q.startTime[1] / 1e6;
    expect(startMs).toBeGreaterThan(before - 1000);
    expect(q.duration[0] * 1e3 + q.duration[1] / 1e6).toBeGreaterThanOrEqual(4);
    expect(ProtobufTraceSerializer.serializeRequest(t.ended)!.length).toBeGreaterThan(100);
  });
});

describe('randomId', () => {
  it('gives distinct lowercase hex ids of the asked length', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => randomId(8)));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^[\da-f]{16}$/);
    expect(randomId(16)).toMatch(/^[\da-f]{32}$/);
  });
});
