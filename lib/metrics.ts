/**
 * One prom-client Registry per process, with Node's process metrics made
 * lint-clean: prom-client adds three gauges named `*_total`, which `promtool
 * check metrics` rejects (only counters may end in _total). Each is the sum of
 * a gauge it also exports by type (`nodejs_active_handles{type}` ...), so the
 * totals are dropped: `sum(nodejs_active_handles)` gives them back.
 */
import client, { Registry } from 'prom-client';

/** Buckets for request and call durations: 5 ms to 10 s (DESIGN.md, Metrics). */
/** From 5 ms to 10 s, with a boundary at every alert threshold (deploy/prometheus/alerts.yml: 2 s). */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 2.5, 5, 10];

const REDUNDANT_TOTAL_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** A registry with the process metrics of this process, and `labels` on every series. */
export function createRegistry(labels: Record<string, string> = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  // The event-loop lag sampler wakes its process at this interval; prom-client's 10 ms default
  // costs every idle process ~100 wake-ups a second on cores that should be computing
  // (measured: the four processes of a pool at rest used 30 ms of CPU a second at 100 ms, 33–45 at 10 ms).
  client.collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });
  for (const name of REDUNDANT_TOTAL_GAUGES) registry.removeSingleMetric(name);
  return registry;
}
