import { ROOT_CONTEXT, trace, TraceFlags, type Span, type SpanOptions, type Context, type Tracer } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { describe, expect, it } from 'vitest';
import { HeadSampledTracer, randomId } from './head-sampled-tracer.js';

/** Stands for the SDK's tracer: records what it is asked, answers a recorded-looking span. */
function fakeSdk(): Tracer & { asked: number } {
  const sdk = {
    asked: 0,
    startSpan(_name: string, _options?: SpanOptions, _context?: Context): Span {
      sdk.asked++;
      return trace.wrapSpanContext({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: TraceFlags.SAMPLED });
    },
    startActiveSpan: () => undefined,
  };
  return sdk as unknown as Tracer & { asked: number };
}

const parent = (flags: TraceFlags) => trace.setSpanContext(ROOT_CONTEXT, {
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: flags, isRemote: true, traceState: new TraceState('vendor=x'),
});

describe('HeadSampledTracer', () => {
  it('records no new trace at ratio 0, without asking the SDK: valid ids, the sampled flag off', () => {
    const sdk = fakeSdk();
    const span = new HeadSampledTracer(sdk, 0).startSpan('GET');
    const { traceId, spanId, traceFlags } = span.spanContext();
    expect(sdk.asked).toBe(0);
    expect(span.isRecording()).toBe(false);
    expect(traceId).toMatch(/^[\da-f]{32}$/);
    expect(spanId).toMatch(/^[\da-f]{16}$/);
    expect(traceFlags).toBe(TraceFlags.NONE);
  });

  it('hands every new trace to the SDK at ratio 1', () => {
    const sdk = fakeSdk();
    const tracer = new HeadSampledTracer(sdk, 1);
    for (let i = 0; i < 100; i++) tracer.startSpan('GET');
    expect(sdk.asked).toBe(100);
  });

  it('samples about `ratio` of new traces', () => {
    const sdk = fakeSdk();
    const tracer = new HeadSampledTracer(sdk, 0.25);
    for (let i = 0; i < 20_000; i++) tracer.startSpan('GET');
    // Binomial(20000, 0.25): the standard deviation is 61, so ±600 never fails by chance.
    expect(sdk.asked).toBeGreaterThan(5000 - 600);
    expect(sdk.asked).toBeLessThan(5000 + 600);
  });

  it('continues an unsampled parent unsampled without the SDK: its trace id and tracestate, a new span id', () => {
    const sdk = fakeSdk();
    const span = new HeadSampledTracer(sdk, 1).startSpan('GET', {}, parent(TraceFlags.NONE));
    expect(sdk.asked).toBe(0);
    expect(span.spanContext()).toMatchObject({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', traceFlags: TraceFlags.NONE });
    expect(span.spanContext().spanId).not.toBe('00f067aa0ba902b7');
    expect(span.spanContext().traceState?.serialize()).toBe('vendor=x');
  });

  it('asks the SDK for the child of a sampled parent, whatever the ratio', () => {
    const sdk = fakeSdk();
    new HeadSampledTracer(sdk, 0).startSpan('GET', {}, parent(TraceFlags.SAMPLED));
    expect(sdk.asked).toBe(1);
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
