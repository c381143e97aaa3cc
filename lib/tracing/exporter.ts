/**
 * The SDK's batching in front of the OTLP exporter, with every span accounted
 * for: the BatchSpanProcessor drops spans silently when its queue is full (a
 * debug line at most), and a failed export loses its batch. Here the queue is
 * bounded one step earlier, so each lost span is counted by its reason, and
 * requests never wait on the collector: spans only ever join a bounded queue.
 */
import { ExportResultCode, getNumberFromEnv, type ExportResult } from '@opentelemetry/core';
import { TraceFlags, type Context } from '@opentelemetry/api';
import { BatchSpanProcessor, type ReadableSpan, type Span, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace';
import type { TracingCounters } from './metrics.js';

/**
 * The batching settings, from the spec's OTEL_BSP_* variables (this SDK leaves reading them to
 * its Node "sdk-node" bundle, which Portico does not use) or the spec's defaults. Past
 * maxQueueSize waiting spans, new ones are dropped and counted.
 */
function batchOptions() {
  return {
    maxQueueSize: getNumberFromEnv('OTEL_BSP_MAX_QUEUE_SIZE') ?? 2048,
    maxExportBatchSize: getNumberFromEnv('OTEL_BSP_MAX_EXPORT_BATCH_SIZE') ?? 512,
    scheduledDelayMillis: getNumberFromEnv('OTEL_BSP_SCHEDULE_DELAY') ?? 5000,
    exportTimeoutMillis: getNumberFromEnv('OTEL_BSP_EXPORT_TIMEOUT') ?? 30_000,
  };
}

export interface ExportEvents {
  /** The collector stopped accepting spans (once per change), or accepts them again (error undefined). */
  onHealth(error: string | undefined): void;
}

/** A span processor that batches into `exporter`, counting what is exported and what is lost. */
export function countedBatchProcessor(exporter: SpanExporter, counters: TracingCounters, events: ExportEvents): SpanProcessor {
  const counted = new CountedExporter(exporter, counters, events);
  const options = batchOptions();
  return new BoundedProcessor(new BatchSpanProcessor({ ...options, exporter: counted }), counted, counters, options.maxQueueSize);
}

class CountedExporter implements SpanExporter {
  /** Spans handed to the processor and not yet to the exporter. */
  queued = 0;
  private failing = false;

  constructor(private readonly inner: SpanExporter, private readonly counters: TracingCounters, private readonly events: ExportEvents) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.queued -= spans.length;
    this.inner.export(spans, (result) => {
      if (result.code === ExportResultCode.SUCCESS) {
        this.counters.exported.inc(spans.length);
        if (this.failing) this.events.onHealth(undefined);
        this.failing = false;
      } else {
        this.counters.dropped.inc({ reason: 'export_failed' }, spans.length);
        if (!this.failing) this.events.onHealth(result.error?.message ?? 'the export failed');
        this.failing = true;
      }
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

class BoundedProcessor implements SpanProcessor {
  constructor(private readonly inner: SpanProcessor, private readonly exporter: CountedExporter, private readonly counters: TracingCounters, private readonly maxQueued: number) {}

  onStart(span: Span, parent: Context): void {
    this.inner.onStart(span, parent);
  }

  private stopped = false;

  onEnd(span: ReadableSpan): void {
    if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    // A request that began before a reload replaced the tracer and ended after it stopped.
    if (this.stopped) return void this.counters.dropped.inc({ reason: 'shutdown' });
    if (this.exporter.queued >= this.maxQueued) return void this.counters.dropped.inc({ reason: 'queue_full' });
    this.exporter.queued++;
    this.inner.onEnd(span);
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  /**
   * The SDK's processor shuts its exporter down only when its last flush succeeds; after a
   * failed one (a collector that is down at a reload) the export thread would live on, idle,
   * for the life of the process. So the exporter is shut down here whatever the flush did.
   */
  shutdown(): Promise<void> {
    this.stopped = true;
    return this.inner.shutdown().finally(() => this.exporter.shutdown());
  }
}
