/** What tracing did with the spans it recorded, in each hop's own registry. */
import { Counter, type Registry } from 'prom-client';

export interface TracingCounters {
  exported: Counter;
  dropped: Counter<'reason'>;
}

export function createTracingCounters(registry: Registry): TracingCounters {
  return {
    exported: new Counter({ name: 'portico_trace_spans_exported_total', help: 'Spans the OTLP collector accepted.', registers: [registry] }),
    dropped: new Counter({
      name: 'portico_trace_spans_dropped_total',
      help: 'Recorded spans lost, by reason: queue_full (the collector fell behind or is down and the export queue was full), export_failed (the collector refused them or could not be reached), shutdown (their tracer had stopped: a reload replaced it more than 30 s before they ended).',
      labelNames: ['reason'], registers: [registry],
    }),
  };
}
