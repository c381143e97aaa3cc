/** The backend's own registry: its HTTP requests, its slots and queue, and the native calls. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { createRegistry, DURATION_BUCKETS } from '../lib/metrics.js';
import type { Slots } from './slots.js';

export interface BackendMetrics {
  registry: Registry;
  requests: Counter<'route' | 'method' | 'code'>;
  requestDuration: Histogram<'route'>;
  nativeCallDuration: Histogram<'op'>;
  nativeCallErrors: Counter<'op' | 'code'>;
  queueWait: Histogram;
  shed: Counter<'reason'>;
  givenBack: Counter;
}

export function createBackendMetrics(slots: Slots, coreVersion: string): BackendMetrics {
  const registry = createRegistry();
  const registers = [registry];
  new Gauge({
    name: 'portico_backend_info', help: 'Always 1; labels carry the native core version.',
    labelNames: ['core_version'], registers,
  }).set({ core_version: coreVersion }, 1);
  new Gauge({
    name: 'portico_backend_slots', help: 'Compute slots of this backend (concurrent native calls).', registers,
    collect() { this.set(slots.stats().slots); },
  });
  new Gauge({
    name: 'portico_backend_slots_busy', help: 'Compute slots running a native call now.', registers,
    collect() { this.set(slots.stats().busy); },
  });
  new Gauge({
    name: 'portico_backend_queue_depth', help: 'Requests waiting for a compute slot.', registers,
    collect() { this.set(slots.stats().queued); },
  });
  return {
    registry,
    requests: new Counter({
      name: 'portico_backend_requests_total', help: 'HTTP requests answered by this backend.',
      labelNames: ['route', 'method', 'code'], registers,
    }),
    requestDuration: new Histogram({
      name: 'portico_backend_request_duration_seconds', help: 'Time from request to response, queue wait included.',
      labelNames: ['route'], buckets: DURATION_BUCKETS, registers,
    }),
    nativeCallDuration: new Histogram({
      name: 'portico_native_call_duration_seconds', help: 'Duration of native core calls.',
      labelNames: ['op'], buckets: DURATION_BUCKETS, registers,
    }),
    nativeCallErrors: new Counter({
      name: 'portico_native_call_errors_total', help: 'Native core calls that returned an error.',
      labelNames: ['op', 'code'], registers,
    }),
    queueWait: new Histogram({
      name: 'portico_backend_queue_wait_seconds', help: 'Time requests waited for a compute slot.',
      buckets: DURATION_BUCKETS, registers,
    }),
    givenBack: new Counter({
      name: 'portico_backend_given_back_total', help: 'Queued requests handed back unstarted to the proxy that offered to re-send them (stuck behind a call far dearer than usual).',
      registers,
    }),
    shed: new Counter({
      name: 'portico_backend_shed_total', help: 'Requests refused (queue full) or dropped (client gone while queued).',
      labelNames: ['reason'], registers,
    }),
  };
}
