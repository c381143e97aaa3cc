/** The registries docs/metrics.md documents: the proxy's (with the supervisor's) and a backend's (npm run docs:metrics). */
import { createBackendMetrics } from '../backend/metrics.js';
import { Slots } from '../backend/slots.js';
import { metricsDoc } from '../lib/metrics-doc.js';
import { createProxyMetrics } from '../proxy/metrics.js';

export function docsMetricsText(): Promise<string> {
  return metricsDoc([
    {
      title: 'Proxy (and supervisor)',
      where: 'On the admin listener: `GET 127.0.0.1:9901/metrics`. The `portico_supervisor_*` series come from the master, through the proxy.',
      registry: createProxyMetrics(() => [], () => []).registry,
    },
    {
      title: 'Backend (and native core)',
      where: 'On each backend\'s own port: `GET http://127.0.0.1:4001/metrics` and so on; listed by `GET /targets` for Prometheus.',
      registry: createBackendMetrics(new Slots(1, 0), '0.0.0').registry,
    },
  ]);
}
