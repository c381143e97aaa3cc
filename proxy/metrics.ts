/** The proxy's registry: requests by route/upstream/server, durations, server state, supervisor restarts. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { createRegistry, DURATION_BUCKETS } from '../lib/metrics.js';
import type { SupervisedProcess } from '../lib/ipc.js';
import type { Upstream } from './upstream.js';


export interface ProxyMetrics {
  registry: Registry;
  requests: Counter<'route' | 'upstream' | 'server' | 'code' | 'method'>;
  requestDuration: Histogram<'route' | 'upstream'>;
  upstreamDuration: Histogram<'upstream' | 'server'>;
  upstreamErrors: Counter<'upstream' | 'server' | 'reason'>;
  retries: Counter<'upstream'>;
  configReloads: Counter<'result'>;
  configLastReloadSuccess: Gauge;
}

/** `getUpstreams` and `getSupervised` are read at scrape time, so reloads and restarts show at once. */
export function createProxyMetrics(getUpstreams: () => Iterable<Upstream>, getSupervised: () => SupervisedProcess[]): ProxyMetrics {
  const registry = createRegistry();
  const registers = [registry];
  new Gauge({
    name: 'portico_upstream_server_up', help: '1 when the server may receive requests (up, not draining).',
    labelNames: ['upstream', 'server'], registers,
    collect() {
      this.reset();
      for (const u of getUpstreams()) for (const s of u.stats().servers) this.set({ upstream: u.config.name, server: s.url }, s.up ? 1 : 0);
    },
  });
  new Gauge({
    name: 'portico_upstream_server_inflight', help: 'Requests in flight to the server.',
    labelNames: ['upstream', 'server'], registers,
    collect() {
      this.reset();
      for (const u of getUpstreams()) for (const s of u.servers) this.set({ upstream: u.config.name, server: s.url }, s.inflight);
    },
  });
  new Counter({
    name: 'portico_supervisor_restarts_total', help: 'Processes restarted by the master after they died.',
    labelNames: ['process'], registers,
    collect() {
      this.reset();
      for (const p of getSupervised()) this.inc({ process: p.name }, p.restarts);
    },
  });
  new Gauge({
    name: 'portico_supervisor_processes', help: 'Supervised processes by state.',
    labelNames: ['state'], registers,
    collect() {
      this.reset();
      for (const p of getSupervised()) this.inc({ state: p.state });
    },
  });
  return {
    registry,
    requests: new Counter({
      name: 'portico_requests_total', help: 'Requests answered by the proxy.',
      labelNames: ['route', 'upstream', 'server', 'code', 'method'], registers,
    }),
    requestDuration: new Histogram({
      name: 'portico_request_duration_seconds', help: 'Time from request to the end of the response.',
      labelNames: ['route', 'upstream'], buckets: DURATION_BUCKETS, registers,
    }),
    upstreamDuration: new Histogram({
      name: 'portico_upstream_response_duration_seconds', help: 'Time from sending to an upstream server to its response headers.',
      labelNames: ['upstream', 'server'], buckets: DURATION_BUCKETS, registers,
    }),
    upstreamErrors: new Counter({
      name: 'portico_upstream_errors_total', help: 'Failed attempts to an upstream server, by reason.',
      labelNames: ['upstream', 'server', 'reason'], registers,
    }),
    retries: new Counter({
      name: 'portico_upstream_retries_total', help: 'Requests retried on another server.',
      labelNames: ['upstream'], registers,
    }),
    configReloads: new Counter({
      name: 'portico_config_reloads_total', help: 'Config reloads attempted, by result (success, failure).',
      labelNames: ['result'], registers,
    }),
    configLastReloadSuccess: new Gauge({
      name: 'portico_config_last_reload_success', help: '1 when the last config load succeeded, 0 when the running config is older than the file.',
      registers,
    }),
  };
}
