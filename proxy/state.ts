/**
 * What the proxy runs on, made from the config and remade on each reload: the
 * upstreams (reconfigured in place, so servers keep their counts and health),
 * their health checks and DNS discovery, the router and each route's chain of
 * steps, the cache and the client limits.
 */
import type { PorticoConfig } from '../lib/config/load.js';
import type { Logger } from '../lib/log.js';
import { loggedExportHealth, retireTracing, startTracing, type Tracing } from '../lib/tracing/tracer.js';
import { DnsDiscovery } from './balancer/dns-discovery.js';
import { autoCap, HealthChecker } from './balancer/health.js';
import { Upstream, type LocalServer, type UpstreamEvents } from './balancer/upstream.js';
import { HttpCache } from './cache/http-cache.js';
import type { CacheGauges, ProxyMetrics } from './metrics.js';
import type { FetchWithRetries } from './request/attempts.js';
import { buildChains } from './request/chain.js';
import { ClientLimits } from './request/client-limits.js';
import { TrustedProxies } from './request/forwarded.js';
import type { HandlerState } from './request/handler.js';
import { Router } from './request/router.js';

export interface ProxyState extends HandlerState {
  checkers: Map<string, HealthChecker>;
  discoveries: DnsDiscovery[];
  /** The response cache of the routes that set `cache`. */
  cache: HttpCache;
  /** Per-client rate and concurrency limits of the routes that set them (kept across reloads). */
  limits: ClientLimits;
}

export interface StateDeps {
  /** Local servers come from the master. */
  supervised: boolean;
  metrics: ProxyMetrics;
  log: Logger;
  fetchWithRetries: FetchWithRetries;
  /** Proxy processes sharing the listeners (`proxy.workers`): each holds its share of the `auto` caps, as replicas do. */
  workers: number;
}

/**
 * The handler's state for `config`. With `previous`, upstreams that stay are
 * reconfigured in place (servers keep their in-flight counts and health);
 * removed ones stop their checks and refuse what still waits in their queue.
 */
export function buildState(config: PorticoConfig, { supervised, metrics, log, fetchWithRetries, workers }: StateDeps, previous?: ProxyState): ProxyState {
  const upstreams = new Map<string, Upstream>();
  const checkers = new Map<string, HealthChecker>();
  for (const [name, u] of config.upstreams) {
    // Only the pool's backends are known to take their auto cap before they report it; other servers are uncapped unless they report slots.
    const defaultCap = name === config.pool.upstream ? autoCap(config.pool.slots, config.pool.queue) : Number.POSITIVE_INFINITY;
    const existing = previous?.upstreams.get(name);
    if (existing) {
      existing.reconfigure(u, defaultCap);
      const checker = previous!.checkers.get(name)!;
      checker.kick(); // new servers get traffic after their first passing checks, not an interval later
      upstreams.set(name, existing);
      checkers.set(name, checker);
      continue;
    }
    const upstream = new Upstream(u, { supervised, defaultCap, replicas: config.replicas * workers, events: upstreamEvents(name, metrics, log) });
    const checker = new HealthChecker(upstream, {
      onCheck: (up, server, result) => metrics.healthChecks.inc({ upstream: up, server, result }),
      // Once per change of state, not once per check.
      onChange: (up, server, healthy, problem) => {
        if (healthy) log.info({ upstream: up, server }, 'server passed its health checks: back in rotation');
        else log.warn({ upstream: up, server, check: `GET ${upstream.config.health.path}`, problem }, `server failed its health checks: GET ${upstream.config.health.path}: ${problem ?? 'failed'}`);
      },
      onPlainHttp: (up, server, why, checked, cap) => log.info({ upstream: up, server, why },
        `server is not a Portico backend (${why}): serving it as a plain HTTP server${cap === Number.POSITIVE_INFINITY ? ', uncapped' : ''}${checked ? '' : ', checked once a minute only (set health.path for a check of its own)'}`),
    });
    checker.start();
    upstreams.set(name, upstream);
    checkers.set(name, checker);
  }
  for (const [name, gone] of previous?.upstreams ?? []) {
    if (upstreams.has(name)) continue;
    previous!.checkers.get(name)?.stop();
    gone.close();
  }
  // Lookups restart with the new config; servers already found stay until a new answer replaces them.
  for (const discovery of previous?.discoveries ?? []) discovery.stop();
  const discoveries = [...upstreams].filter(([, u]) => u.config.dns.length > 0).map(([name, u]) => {
    const discovery = new DnsDiscovery(u, config.dns, log, () => checkers.get(name)?.kick());
    discovery.start();
    return discovery;
  });
  const cache = cacheFor(config, metrics, log, previous?.cache);
  const limits = previous?.limits ?? new ClientLimits();
  return {
    router: new Router(config.routes), chains: buildChains(config.routes, { upstreams, cache, limits, metrics, fetchWithRetries }),
    upstreams, checkers, discoveries, accessLog: config.accessLog, tracing: tracingFor(config, metrics, log, previous?.tracing), cache, limits,
    trustedProxies: new TrustedProxies(config.trustedProxies), maxHeaders: config.client.max_headers, publicStatus: config.publicStatus,
  };
}

/**
 * The tracer for `config`: the running one while `tracing` stays the same; a new one when it
 * changes, the old one flushed and stopped once the requests it traced have ended.
 */
function tracingFor(config: PorticoConfig, metrics: ProxyMetrics, log: Logger, previous: Tracing | undefined): Tracing | undefined {
  if (JSON.stringify(previous?.config) === JSON.stringify(config.tracing)) return previous;
  if (previous) retireTracing(previous, TRACER_RETIRE_MS);
  if (!config.tracing) return undefined;
  log.info({ otlp: config.tracing.otlp ?? '(OTEL_EXPORTER_OTLP_ENDPOINT)', sample: config.tracing.sample }, 'tracing on');
  return startTracing(config.tracing, 'portico-proxy', metrics.tracing, loggedExportHealth(log));
}

/** How long a replaced tracer keeps taking the spans of requests it began. */
const TRACER_RETIRE_MS = 30_000;

/** The upstream's events as metrics and log lines. */
function upstreamEvents(upstream: string, metrics: ProxyMetrics, log: Logger): UpstreamEvents {
  return {
    onQueueWait: (ms) => metrics.queueWait.observe({ upstream }, ms / 1000),
    onResponse: (server, ms) => metrics.upstreamDuration.observe({ upstream, server: server.url }, ms / 1000),
    onFailure: (server, reason) => metrics.upstreamErrors.inc({ upstream, server: server.url, reason }),
    onEjected: (server, ejectedMs) => {
      metrics.ejections.inc({ upstream, server: server.url });
      log.warn({ upstream, server: server.url, ejectedMs }, 'server ejected after consecutive failures');
    },
    onBackpressure: (server) => metrics.backpressure.inc({ upstream, server: server.url }),
    onGivenBack: (server) => metrics.givenBack.inc({ upstream, server: server.url }),
  };
}

/** The cache for `config`: the running one while its limits stay (keeping what it stores), a new one when they change. */
function cacheFor(config: PorticoConfig, metrics: ProxyMetrics, log: Logger, previous?: HttpCache): HttpCache {
  const options = { maxBytes: config.cache.max_bytes, maxObjectBytes: config.cache.max_object_bytes, lockTimeoutMs: config.cache.lock_timeout };
  if (previous && JSON.stringify(previous.options) === JSON.stringify(options)) return previous;
  if (previous) log.info({ ...options }, 'cache limits changed: starting an empty cache');
  return new HttpCache(options, {
    onCoalesced: () => metrics.cacheCoalesced.inc(),
    onEvict: (n) => metrics.cacheEvictions.inc(n),
    onBackgroundError: (err) => log.warn({ error: err.message }, 'background revalidation failed'),
  });
}

export function cacheGauges(cache: HttpCache): CacheGauges {
  return { bytes: cache.store.bytes, entries: cache.store.entries, maxBytes: cache.options.maxBytes };
}

export function applyLocalServers(state: ProxyState, poolUpstream: string, servers: LocalServer[]): void {
  state.upstreams.get(poolUpstream)?.setLocalServers(servers);
}
