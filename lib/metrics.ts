/**
 * One prom-client Registry per process, with Node's process metrics made
 * lint-clean: prom-client names three gauges `*_total`, which `promtool check
 * metrics` rejects (counters alone may end in _total), so they are renamed.
 */
import client, { Registry } from 'prom-client';

/** Buckets for request and call durations: 5 ms to 10 s (DESIGN.md, Metrics). */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const RENAMED_GAUGES: Record<string, string> = {
  nodejs_active_handles_total: 'nodejs_active_handles_count',
  nodejs_active_requests_total: 'nodejs_active_requests_count',
  nodejs_active_resources_total: 'nodejs_active_resources_count',
};

/** A registry with the process metrics of this process, and `labels` on every series. */
export function createRegistry(labels: Record<string, string> = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  client.collectDefaultMetrics({ register: registry });
  for (const [from, to] of Object.entries(RENAMED_GAUGES)) {
    const metric = registry.getSingleMetric(from) as client.Gauge | undefined;
    if (!metric) continue;
    registry.removeSingleMetric(from);
    new client.Gauge({
      name: to,
      help: (metric as unknown as { help: string }).help,
      registers: [registry],
      async collect() {
        const { values } = await metric.get();
        this.reset();
        for (const v of values) this.set(v.labels, v.value);
      },
    });
  }
  return registry;
}
