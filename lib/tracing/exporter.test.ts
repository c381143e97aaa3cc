import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { AlwaysOnSampler, TracerProvider, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { countedBatchProcessor } from './exporter.js';
import { createTracingCounters } from './metrics.js';

/** An exporter that answers every batch with `code` and counts its shutdowns. */
function fakeExporter(code: ExportResultCode): SpanExporter & { shutdowns: number; exported: number } {
  return {
    shutdowns: 0,
    exported: 0,
    export(spans: ReadableSpan[], done: (result: ExportResult) => void) {
      this.exported += spans.length;
      done(code === ExportResultCode.SUCCESS ? { code } : { code, error: new Error('refused') });
    },
    async shutdown() {
      this.shutdowns++;
    },
  };
}

describe('the counted batch processor’s shutdown', () => {
  it.each([
    ['failed', ExportResultCode.FAILED],
    ['succeeded', ExportResultCode.SUCCESS],
  ])('shuts its exporter down when the last export %s (the export thread must not outlive a reload)', async (_, code) => {
    const exporter = fakeExporter(code);
    const processor = countedBatchProcessor(exporter, createTracingCounters(new Registry()), { onHealth: () => {} });
    new TracerProvider({ sampler: new AlwaysOnSampler(), spanProcessors: [processor] }).getTracer('t').startSpan('last').end();
    await processor.shutdown().catch(() => {}); // the SDK's processor rejects when its last flush fails
    expect(exporter.exported).toBe(1);
    expect(exporter.shutdowns).toBeGreaterThanOrEqual(1);
  });
});
