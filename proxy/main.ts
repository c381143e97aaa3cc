/**
 * The proxy process: loads the config, serves the client listeners and the
 * admin listener, follows the master's word on local backends, reloads the
 * config in place (file change, SIGHUP, POST /reload), and drains on SIGTERM
 * (or when the master goes away).
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, loadConfig, type PorticoConfig } from '../lib/config/load.js';
import { watchConfigFile } from '../lib/config/watch.js';
import { isIpcMessage, type SupervisedProcess } from '../lib/ipc.js';
import { exitOnListenError, ListenError, listenErrorOf } from '../lib/listen-error.js';
import { drainAndExit, onShutdownSignal } from '../lib/drain.js';
import { createLogger, type Logger } from '../lib/log.js';
import { DnsDiscovery } from './balancer/dns-discovery.js';
import { createAdminServer } from './admin/api.js';
import { targets } from './admin/targets.js';
import { createUpgradeHandler } from './request/upgrade.js';
import { onClientError } from './listen/client-error.js';
import { Forwarder } from './forward/forward.js';
import { createHandler, type HandlerState } from './request/handler.js';
import { TrustedProxies } from './request/forwarded.js';
import { autoCap, HealthChecker } from './balancer/health.js';
import { HttpCache } from './cache/http-cache.js';
import { ClientLimits } from './request/client-limits.js';
import { createProxyMetrics, type CacheGauges, type ProxyMetrics } from './metrics.js';
import { Router } from './request/router.js';
import { Listeners } from './listen/listeners.js';
import { Upstream, type LocalServer, type UpstreamEvents } from './balancer/upstream.js';

const DRAIN_TIMEOUT_MS = 30_000;

export async function runProxy(configFile: string): Promise<void> {
  const log = createLogger('proxy');
  // SIGHUP's default action ends the process: take it over before anything else can take time.
  let onHangup = () => log.info('SIGHUP before start-up finished: ignored');
  process.on('SIGHUP', () => onHangup());
  const supervised = process.connected;
  let config = loadConfig(configFile);
  let processes: SupervisedProcess[] = [];
  let localServers: LocalServer[] = [];
  let draining = false;

  const forwarder = new Forwarder();
  const metrics = createProxyMetrics(() => state.upstreams.values(), () => processes, () => listeners.certificates(), config.metrics, () => cacheGauges(state.cache));
  metrics.configLastReloadSuccess.set(1);
  let state = buildState(config, supervised, metrics, log);
  const handler = createHandler(() => state, forwarder, metrics, log);
  const serve = (req: IncomingMessage, res: ServerResponse) => {
    handler(req, res).catch((err: Error) => {
      log.error({ err }, 'request handler failed');
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  };
  const listeners = new Listeners({
    serve,
    upgrade: createUpgradeHandler(() => state, metrics, log, () => config.client.websocket_idle_timeout),
    rejectMalformed: onClientError((reason) => metrics.rejected.inc({ reason })),
    countRejected: (reason) => metrics.rejected.inc({ reason }),
    onTlsReload: (ok) => metrics.tlsReloads.inc({ result: ok ? 'success' : 'failure' }),
    onProxyProtocolError: () => metrics.rejected.inc({ reason: 'proxy_protocol' }),
    log,
    config: () => config,
  });
  const admin = createAdminServer({
    registry: metrics.registry,
    ready: () => !draining,
    status: () => ({
      pid: process.pid,
      config: config.file,
      draining,
      upstreams: [...state.upstreams.values()].map((u) => u.stats()),
      processes,
    }),
    reload: () => reload('POST /reload'),
    targets: (self) => targets(self, state.upstreams.values(), processes),
    backends: () => [...new Set([...state.upstreams.values()].flatMap((u) => u.servers.map((s) => s.url)))],
    restartPool: () => {
      if (!supervised || !process.send) return false;
      process.send({ type: 'pool-restart' });
      return true;
    },
    token: () => config.adminToken,
    purgeCache: (match) => {
      const purged = state.cache.purge(match);
      log.info({ ...match, purged }, 'cache purge');
      return purged;
    },
  });

  try {
    await listeners.apply(config);
    await listen(admin, config.listen.admin.port, config.listen.admin.host).catch((err: unknown) => {
      throw listenErrorOf(err, 'listen.admin', config.listen.admin.host, config.listen.admin.port);
    });
  } catch (err) {
    if (!(err instanceof ListenError)) throw err;
    // A restart cannot free the port: say so once and end the start (the master stops the rest).
    return exitOnListenError(err, log);
  }
  const httpAddress = listeners.address(listeners.http)!;
  const adminAddress = admin.address() as AddressInfo;
  log.info({ http: httpAddress, https: listeners.httpsPort, admin: adminAddress, config: config.file }, 'proxy listening');
  process.send?.({ type: 'ready', http: httpAddress.port, https: listeners.httpsPort, admin: adminAddress.port });

  process.on('message', (message) => {
    if (!isIpcMessage(message) || message.type !== 'pool') return;
    processes = message.processes;
    localServers = message.servers;
    applyLocalServers(state, config.pool.upstream, localServers);
  });

  /** Validates the file, then applies it in place; resolves to the error when the file was refused. */
  let reloading = Promise.resolve<string | undefined>(undefined);
  const reload = (source: string): Promise<string | undefined> => {
    reloading = reloading.then(async () => {
      try {
        watcher.resync();
        const next = loadConfig(config.file);
        if (JSON.stringify(next.listen.admin) !== JSON.stringify(config.listen.admin)) log.warn('the admin listener\'s address applies when the proxy restarts');
        await listeners.apply(next, config);
        config = { ...next, listen: { ...next.listen, admin: config.listen.admin } };
        state = buildState(config, supervised, metrics, log, state);
        applyLocalServers(state, config.pool.upstream, localServers);
        metrics.configReloads.inc({ result: 'success' });
        metrics.configLastReloadSuccess.set(1);
        log.info({ config: config.file, source }, 'config reloaded');
        return undefined;
      } catch (err) {
        const message = err instanceof ConfigError ? err.message : String(err);
        metrics.configReloads.inc({ result: 'failure' });
        metrics.configLastReloadSuccess.set(0);
        log.error({ error: message, source }, 'config reload failed; keeping the running config');
        return message;
      }
    });
    return reloading;
  };
  onHangup = () => void reload('SIGHUP');
  const watcher = watchConfigFile(config.file, () => void reload('file change'));

  onShutdownSignal((reason) => {
    draining = true;
    log.info({ reason }, 'draining');
    admin.close();
    watcher.stop();
    drainAndExit(listeners, log, DRAIN_TIMEOUT_MS, () => forwarder.close());
  });
}

interface ProxyState extends HandlerState {
  checkers: Map<string, HealthChecker>;
  discoveries: DnsDiscovery[];
}

/**
 * The handler's state for `config`. With `previous`, upstreams that stay are
 * reconfigured in place (servers keep their in-flight counts and health);
 * removed ones stop their checks and refuse what still waits in their queue.
 */
function buildState(config: PorticoConfig, supervised: boolean, metrics: ProxyMetrics, log: Logger, previous?: ProxyState): ProxyState {
  const upstreams = new Map<string, Upstream>();
  const checkers = new Map<string, HealthChecker>();
  for (const [name, u] of config.upstreams) {
    // Only the pool's backends are known to take slots + 1 before they report it; other servers are uncapped unless they report slots.
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
    const upstream = new Upstream(u, { supervised, defaultCap, replicas: config.replicas, events: upstreamEvents(name, metrics, log) });
    const checker = new HealthChecker(upstream, {
      onCheck: (up, server, result) => metrics.healthChecks.inc({ upstream: up, server, result }),
      // Once per change of state, not once per check.
      onChange: (up, server, healthy, problem) => {
        if (healthy) log.info({ upstream: up, server }, 'server passed its health checks: back in rotation');
        else log.warn({ upstream: up, server, check: `GET ${upstream.config.health.path}`, problem }, `server failed its health checks: GET ${upstream.config.health.path}: ${problem ?? 'failed'}`);
      },
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
  return {
    router: new Router(config.routes), upstreams, checkers, discoveries, accessLog: config.accessLog,
    trustedProxies: new TrustedProxies(config.trustedProxies), maxHeaders: config.client.max_headers, publicStatus: config.publicStatus,
    cache: cacheFor(config, metrics, log, previous?.cache),
    limits: previous?.limits ?? new ClientLimits(),
  };
}

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

function cacheGauges(cache: HttpCache): CacheGauges {
  return { bytes: cache.store.bytes, entries: cache.store.entries, maxBytes: cache.options.maxBytes };
}

function applyLocalServers(state: ProxyState, poolUpstream: string, servers: LocalServer[]): void {
  state.upstreams.get(poolUpstream)?.setLocalServers(servers);
}

function listen(server: Server, port: number, host: string | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
