/**
 * OpenTelemetry tracing for one hop (the proxy, a backend): parent-based ratio
 * sampling and spans made in HeadSampledTracer, the SDK's batch processor
 * (countedBatchProcessor), OTLP/HTTP protobuf export from a thread of its own
 * (WorkerSpanExporter), and the hop's `service.name`. The exporter reads
 * OTEL_EXPORTER_OTLP_* (endpoint, headers, timeout, compression, certificates)
 * and the resource OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, as the SDK
 * does everywhere. No context manager is installed: the request path passes
 * its parent spans explicitly, which costs nothing when tracing is off.
 */
import type { Tracer } from '@opentelemetry/api';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { TracingConfig } from '../config/load.js';
import type { Logger } from '../log.js';
import { countedBatchProcessor, type ExportEvents } from './exporter.js';
import { HeadSampledTracer } from './head-sampled-tracer.js';
import type { TracingCounters } from './metrics.js';
import { WorkerSpanExporter } from './worker-exporter.js';

export { createTracingCounters, type TracingCounters } from './metrics.js';

export interface Tracing {
  tracer: Tracer;
  /** The config it was made from (a reload with the same keeps it). */
  readonly config: TracingConfig;
  /** Exports what is queued, then stops. */
  shutdown(): Promise<void>;
}

const VERSION = '0.1.0';

/**
 * @example const tracing = startTracing({ otlp: 'http://127.0.0.1:4318/v1/traces', sample: 0.01 }, 'portico-proxy', counters, events);
 */
export function startTracing(config: TracingConfig, serviceName: string, counters: TracingCounters, events: ExportEvents): Tracing {
  const exporter = new WorkerSpanExporter(config.otlp);
  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over the hop's own name, as the spec has it.
  const resource = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName, [ATTR_SERVICE_VERSION]: VERSION, 'process.pid': process.pid }))
    .merge(detectResources({ detectors: [envDetector] }));
  const processor = countedBatchProcessor(exporter, counters, events);
  const tracer = new HeadSampledTracer({ sink: processor, resource, scope: { name: 'portico', version: VERSION } }, config.sample);
  return { tracer, config, shutdown: () => processor.shutdown() };
}

/** How long a stopping process waits for its last spans to reach the collector. */
const FLUSH_AT_EXIT_MS = 2000;

/** Tracers a reload replaced, still taking the spans of the requests they began. */
const retiring = new Set<Tracing>();

/**
 * Stops `tracing` after `delayMs` (the requests it traced have ended by then), or at the
 * process's drain if that comes first. Its last export may fail (a collector that is down):
 * that is counted, never thrown.
 */
export function retireTracing(tracing: Tracing, delayMs: number): void {
  retiring.add(tracing);
  setTimeout(() => {
    retiring.delete(tracing);
    void flushSpans(tracing);
  }, delayMs).unref();
}

/**
 * Exports what is queued in `tracing` and in the tracers still retiring, for at most
 * FLUSH_AT_EXIT_MS (a collector that is down or hangs must not hold up an exit).
 */
export function flushSpans(tracing: Tracing | undefined): Promise<void> {
  const all = [...(tracing ? [tracing] : []), ...retiring];
  retiring.clear();
  if (all.length === 0) return Promise.resolve();
  return Promise.race([
    Promise.all(all.map((t) => t.shutdown().catch(() => {}))).then(() => undefined),
    new Promise<void>((resolve) => setTimeout(resolve, FLUSH_AT_EXIT_MS).unref()),
  ]);
}

/** The export's health in the hop's log: once when spans stop reaching the collector, once when they reach it again. */
export function loggedExportHealth(log: Logger): ExportEvents {
  return {
    onHealth: (error) => {
      if (error) log.warn({ error }, 'cannot export spans to the OTLP collector; dropping them (portico_trace_spans_dropped_total) until it works again');
      else log.info('exporting spans to the OTLP collector again');
    },
  };
}
