/** The proxy's registry: requests by route/upstream/server, durations, server state, supervisor restarts. */
import { Counter, Gauge, type Registry } from 'prom-client';
import { FastCounter, FastHistogram } from '../lib/fast-metrics.js';
import { createRegistry, DURATION_BUCKETS } from '../lib/metrics.js';
import type { Certificate } from '../lib/certificates.js';
import type { SupervisedProcess } from '../lib/ipc.js';
import type { ServerState, Upstream } from './balancer/upstream.js';
import { createTracingCounters, type TracingCounters } from '../lib/tracing/metrics.js';


export interface ProxyMetrics {
  registry: Registry;
  requests: FastCounter<'route' | 'upstream' | 'server' | 'code' | 'method'>;
  requestDuration: FastHistogram<'route' | 'upstream'>;
  upstreamDuration: FastHistogram<'upstream' | 'server'>;
  upstreamErrors: Counter<'upstream' | 'server' | 'reason'>;
  retries: Counter<'upstream'>;
  staleConnectionResends: Counter<'upstream'>;
  retryBudgetExhausted: Counter<'upstream'>;
  shed: FastCounter<'upstream' | 'reason'>;
  queueWait: FastHistogram<'upstream'>;
  ejections: Counter<'upstream' | 'server'>;
  backpressure: Counter<'upstream' | 'server'>;
  givenBack: Counter<'upstream' | 'server'>;
  healthChecks: Counter<'upstream' | 'server' | 'result'>;
  configReloads: Counter<'result'>;
  tlsReloads: Counter<'result'>;
  acmeOrders: Counter<'kind' | 'result'>;
  acmeLastSuccess: Gauge<'certificate'>;
  rejected: Counter<'reason'>;
  accessLogDropped: Counter<'reason'>;
  tracing: TracingCounters;
  upgrades: Counter<'route' | 'upstream' | 'result'>;
  websockets: Gauge<'route' | 'upstream'>;
  configLastReloadSuccess: Gauge;
  cacheRequests: FastCounter<'route' | 'status'>;
  limited: Counter<'route' | 'reason'>;
  cacheCoalesced: Counter;
  cacheEvictions: Counter;
}

/** What the response cache holds now, read at scrape time. */
export interface CacheGauges {
  bytes: number;
  entries: number;
  maxBytes: number;
}

/** `getUpstreams` and `getSupervised` are read at scrape time, so reloads and restarts show at once. */
export function createProxyMetrics(
  getUpstreams: () => Iterable<Upstream>,
  getSupervised: () => SupervisedProcess[],
  getCertificates: () => Certificate[] = () => [],
  perRequest = true,
  getCache: () => CacheGauges | undefined = () => undefined,
): ProxyMetrics {
  const registry = createRegistry();
  const registers = [registry];
  /** A gauge with one series per server of every upstream, read at scrape time. */
  const perServer = (name: string, help: string, value: (server: ServerState) => number) => new Gauge({
    name, help, labelNames: ['upstream', 'server'], registers,
    collect() {
      this.reset();
      for (const u of getUpstreams()) for (const s of u.servers) this.set({ upstream: u.config.name, server: s.url }, value(s));
    },
  });
  perServer('portico_upstream_server_up', '1 when the server may receive requests (ready, healthy, not ejected, not pushing back).', (s) => (s.up ? 1 : 0));
  perServer('portico_upstream_server_inflight', 'Requests in flight to the server.', (s) => s.inflight);
  perServer('portico_upstream_server_dear_inflight', 'Calls in flight to the server that its upstream knows to be dear (queue.priority: cost, issue 22); while above 0 the server takes requests only into free compute slots, not its queue, until the call answers.', (s) => s.dearInflight);
  perServer('portico_upstream_server_max_inflight', 'The server\'s in-flight cap now (max_inflight or what its /readyz implies, reduced during slow start); +Inf when uncapped.', (s) => s.cap);
  new Gauge({
    name: 'portico_upstream_queue_depth', help: 'Requests waiting in the upstream\'s queue for a free server.',
    labelNames: ['upstream'], registers,
    collect() {
      this.reset();
      for (const u of getUpstreams()) this.set({ upstream: u.config.name }, u.queueDepth());
    },
  });
  new Gauge({
    name: 'portico_upstream_queue_newest_first', help: '1 while the upstream is overloaded and its queue serves the newest requests first (queue.order: adaptive).',
    labelNames: ['upstream'], registers,
    collect() {
      this.reset();
      for (const u of getUpstreams()) this.set({ upstream: u.config.name }, u.newestFirst() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'portico_tls_certificate_not_after_seconds', help: 'Expiry of each certificate served, as a Unix time in seconds.',
    labelNames: ['certificate'], registers,
    collect() {
      this.reset();
      for (const c of getCertificates()) this.set({ certificate: c.label }, Math.floor(c.notAfter.getTime() / 1000));
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
  const cacheGauge = (name: string, help: string, value: (c: CacheGauges) => number) => new Gauge({
    name, help, registers,
    collect() {
      const cache = getCache();
      this.set(cache ? value(cache) : 0);
    },
  });
  cacheGauge('portico_cache_bytes', 'Bytes the response cache holds (bodies, headers and bookkeeping).', (c) => c.bytes);
  cacheGauge('portico_cache_max_bytes', 'The response cache\'s limit (cache.max_bytes).', (c) => c.maxBytes);
  cacheGauge('portico_cache_entries', 'Responses the cache holds (each Vary variant counts).', (c) => c.entries);
  const metrics: ProxyMetrics = {
    registry,
    // Counted on every request: the fast kind (lib/fast-metrics.ts).
    requests: new FastCounter('portico_requests_total', 'Requests answered by the proxy.', ['route', 'upstream', 'server', 'code', 'method'], registry),
    requestDuration: new FastHistogram('portico_request_duration_seconds', 'Time from request to the end of the response.', ['route', 'upstream'], DURATION_BUCKETS, registry),
    upstreamDuration: new FastHistogram('portico_upstream_response_duration_seconds', 'Time from sending to an upstream server to its response headers.', ['upstream', 'server'], DURATION_BUCKETS, registry),
    upstreamErrors: new Counter({
      name: 'portico_upstream_errors_total', help: 'Failed attempts to an upstream server, by reason.',
      labelNames: ['upstream', 'server', 'reason'], registers,
    }),
    retries: new Counter({
      name: 'portico_upstream_retries_total', help: 'Requests retried on another server.',
      labelNames: ['upstream'], registers,
    }),
    staleConnectionResends: new Counter({
      name: 'portico_upstream_stale_connection_resends_total',
      help: 'Requests sent once more on a new connection to the same server because the reused keep-alive connection was closed under them (not a failure, not a retry).',
      labelNames: ['upstream'], registers,
    }),
    retryBudgetExhausted: new Counter({
      name: 'portico_upstream_retry_budget_exhausted_total', help: 'Retries not made because the retry budget was spent.',
      labelNames: ['upstream'], registers,
    }),
    shed: new FastCounter('portico_upstream_shed_total', 'Requests answered 503 without reaching a server, by reason (queue_full, queue_timeout, no_server, client_gone).', ['upstream', 'reason'], registry),
    queueWait: new FastHistogram('portico_upstream_queue_wait_seconds', 'Time requests waited in the queue before getting a server.', ['upstream'], [0.001, ...DURATION_BUCKETS], registry),
    ejections: new Counter({
      name: 'portico_upstream_ejections_total', help: 'Times a server was ejected after consecutive failures.',
      labelNames: ['upstream', 'server'], registers,
    }),
    givenBack: new Counter({
      name: 'portico_upstream_given_back_total', help: 'Requests a server handed back unstarted (stuck behind a call far dearer than usual) and the proxy sent again at once, to a free server; never a failure, never a retry.',
      labelNames: ['upstream', 'server'], registers,
    }),
    backpressure: new Counter({
      name: 'portico_upstream_backpressure_total', help: 'Responses 503 + Retry-After from a server (back-pressure, not failure).',
      labelNames: ['upstream', 'server'], registers,
    }),
    healthChecks: new Counter({
      name: 'portico_upstream_health_checks_total', help: 'Active health checks by result (success, failure, timeout).',
      labelNames: ['upstream', 'server', 'result'], registers,
    }),
    upgrades: new Counter({
      name: 'portico_upgrades_total', help: 'WebSocket upgrade requests, by result (open, error, no_server); other upgrades are refused and counted in portico_rejected_requests_total.',
      labelNames: ['route', 'upstream', 'result'], registers,
    }),
    websockets: new Gauge({
      name: 'portico_websocket_connections', help: 'Upgraded connections open now.',
      labelNames: ['route', 'upstream'], registers,
    }),
    rejected: new Counter({
      name: 'portico_rejected_requests_total', help: 'Requests refused before routing: malformed or ambiguous framing, header or body limits, slow clients, non-WebSocket upgrades, CONNECT.',
      labelNames: ['reason'], registers,
    }),
    tracing: createTracingCounters(registry),
    accessLogDropped: new Counter({
      name: 'portico_access_log_lines_dropped_total', help: 'Access-log lines not written to access_log.file, by reason (backlog: the disk fell behind; write_error; closed: written after a reload closed the file).',
      labelNames: ['reason'], registers,
    }),
    tlsReloads: new Counter({
      name: 'portico_tls_reloads_total', help: 'Certificate reloads after the files changed, by result (success, failure).',
      labelNames: ['result'], registers,
    }),
    acmeOrders: new Counter({
      name: 'portico_acme_orders_total', help: 'ACME certificate orders by this proxy, by kind (new, renewal) and result (success, failure).',
      labelNames: ['kind', 'result'], registers,
    }),
    acmeLastSuccess: new Gauge({
      name: 'portico_acme_last_success_timestamp_seconds', help: 'When the ACME certificate served was last obtained, as a Unix time in seconds (by any proxy sharing the state directory).',
      labelNames: ['certificate'], registers,
    }),
    configReloads: new Counter({
      name: 'portico_config_reloads_total', help: 'Config reloads attempted, by result (success, failure).',
      labelNames: ['result'], registers,
    }),
    cacheRequests: new FastCounter('portico_cache_requests_total', 'Requests on cached routes by what the cache did: hit, miss, stale, revalidated, bypass (X-Cache).', ['route', 'status'], registry),
    limited: new Counter({
      name: 'portico_limited_requests_total', help: 'Requests answered 429 by a route\'s per-client limits, by reason (rate, concurrent).',
      labelNames: ['route', 'reason'], registers,
    }),
    cacheCoalesced: new Counter({
      name: 'portico_cache_coalesced_total', help: 'Misses answered by another request\'s upstream fetch of the same key (request coalescing).', registers,
    }),
    cacheEvictions: new Counter({
      name: 'portico_cache_evictions_total', help: 'Stored responses evicted to make room (least recently used first).', registers,
    }),
    configLastReloadSuccess: new Gauge({
      name: 'portico_config_last_reload_success', help: '1 when the last config load succeeded, 0 when the running config is older than the file.',
      registers,
    }),
  };
  return perRequest ? metrics : withoutPerRequestMetrics(metrics);
}

/** The series counted on every request: what `metrics: false` turns off. */
const PER_REQUEST: ReadonlySet<keyof ProxyMetrics> = new Set(['requests', 'requestDuration', 'upstreamDuration', 'shed', 'queueWait', 'cacheRequests']);

/**
 * `metrics: false`: the per-request counters and histograms become no-ops, so
 * that `npm run bench:hot-path` can price them. Everything else stays: the
 * scrape-time gauges and the counters of rare events (reloads, ejections,
 * health checks), which cost nothing per request and which alerts read
 * (portico_config_last_reload_success would otherwise sit at 0 and fire).
 */
function withoutPerRequestMetrics(metrics: ProxyMetrics): ProxyMetrics {
  const noop = { inc() {}, dec() {}, set() {}, observe() {} };
  const entries = Object.entries(metrics).map(([key, value]) => [key, PER_REQUEST.has(key as keyof ProxyMetrics) ? noop : value]);
  return Object.fromEntries(entries) as ProxyMetrics;
}
