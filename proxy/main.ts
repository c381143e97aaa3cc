/**
 * The proxy process: loads the config, serves the client listeners and the
 * admin listener, follows the master's word on local backends, reloads the
 * config in place (file change, SIGHUP, POST /reload), and drains on SIGTERM
 * (or when the master goes away).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { statSync } from 'node:fs';
import { loadConfig, type PorticoConfig } from '../lib/config/load.js';
import { AcmeManager } from './acme/manager.js';
import { AcmeStore } from './acme/store.js';
import { watchConfigFile } from '../lib/config/watch.js';
import { isIpcMessage, type SupervisedProcess, type WorkersBroadcastMessage } from '../lib/ipc.js';
import { exitOnListenError, ListenError } from '../lib/listen-error.js';
import { drainAndExit, onShutdownSignal, trackConnections } from '../lib/drain.js';
import { createLogger } from '../lib/log.js';
import { LogFile } from '../lib/log-file.js';
import { flushSpans } from '../lib/tracing/tracer.js';
import { createAdminServer } from './admin/api.js';
import { targets } from './admin/targets.js';
import type { PurgeMatch } from './cache/purge.js';
import { WORKER, WORKERS, WorkerReports } from './admin/worker-reports.js';
import { workersMetrics, workersStatus } from './admin/workers-view.js';
import type { LocalServer } from './balancer/upstream.js';
import { Forwarder } from './forward/forward.js';
import { onClientError } from './listen/client-error.js';
import { Listeners } from './listen/listeners.js';
import { listenOn, masterHoldsSockets } from './listen/master-socket.js';
import { createProxyMetrics } from './metrics.js';
import { createAttempts } from './request/attempts.js';
import { createHandler } from './request/handler.js';
import { createAccessLog } from './request/access-log.js';
import { createRecorder } from './request/record.js';
import { createUpgradeHandler } from './request/upgrade.js';
import { applyLocalServers, buildState, cacheGauges, type ProxyState } from './state.js';

const DRAIN_TIMEOUT_MS = 30_000;
/** How long a supervised proxy waits for the master's first word on the pool before it listens anyway. */
const POOL_WAIT_MS = 2000;

export async function runProxy(configFile: string): Promise<void> {
  const log = createLogger('proxy');
  // SIGHUP's default action ends the process: take it over before anything else can take time.
  let onHangup = () => log.info('SIGHUP before start-up finished: ignored');
  process.on('SIGHUP', () => onHangup());
  const supervised = process.connected;
  // Under a master with `proxy.workers`, this process is one of several on the same sockets.
  const workers = WORKERS;
  let config = loadConfig(configFile);
  let processes: SupervisedProcess[] = [];
  let localServers: LocalServer[] = [];
  let draining = false;

  const forwarder = new Forwarder();
  const metrics = createProxyMetrics(() => state.upstreams.values(), () => processes, () => listeners.certificates(), config.metrics, () => cacheGauges(state.cache));
  metrics.configLastReloadSuccess.set(1);
  const fetchWithRetries = createAttempts(forwarder, metrics, log);
  let state = buildState(config, { supervised, metrics, log, fetchWithRetries, workers });
  // access_log.file: opened here, swapped by a reload that names another, reopened on SIGUSR1 (logrotate).
  // A reload opens the new file first (its error refuses the reload), and closes the old one once it applies.
  const openAccessLog = (path: string | undefined) => path === accessLogFile?.path ? accessLogFile
    : path === undefined ? undefined : new LogFile(path, (lines, reason) => metrics.accessLogDropped.inc({ reason }, lines));
  const useAccessLog = (file: LogFile | undefined) => {
    if (file === accessLogFile) return;
    accessLog.flush(); // the lines of requests that ended before the change go to the old file
    void accessLogFile?.close();
    accessLogFile = file;
  };
  let accessLogFile: LogFile | undefined;
  const accessLog = createAccessLog(log, () => accessLogFile);
  useAccessLog(openAccessLog(config.accessLogFile));
  // SIGUSR2 restarts the proxies through the master; one that reaches a proxy (systemctl kill without
  // --kill-whom=main) must not end it, which is SIGUSR2's default action.
  process.on('SIGUSR2', () => log.info('SIGUSR2 is for the master (it restarts the proxies): ignored'));
  process.on('SIGUSR1', () => {
    log.info({ file: accessLogFile?.path }, 'SIGUSR1: reopening the access log file');
    accessLog.flush(); // lines of requests that ended before the signal go to the old file
    accessLogFile?.reopen((err) => log.error({ error: err.message }, 'cannot reopen the access log file; still writing to the one open'));
  });
  const handler = createHandler(() => state, metrics, createRecorder(metrics, accessLog));
  const failed = (res: ServerResponse, err: Error) => {
    log.error({ err }, 'request handler failed');
    if (!res.headersSent) res.writeHead(500).end();
    else res.destroy();
  };
  const serve = (req: IncomingMessage, res: ServerResponse) => {
    try {
      handler(req, res)?.catch((err: Error) => failed(res, err));
    } catch (err) {
      failed(res, err as Error);
    }
  };
  const listeners = new Listeners({
    serve,
    upgrade: createUpgradeHandler(() => state, metrics, log, () => config.client.websocket_idle_timeout),
    rejectMalformed: onClientError((reason) => metrics.rejected.inc({ reason })),
    countRejected: (reason) => metrics.rejected.inc({ reason }),
    onTlsReload: (ok) => metrics.tlsReloads.inc({ result: ok ? 'success' : 'failure' }),
    acmeFiles: (a) => {
      const stored = new AcmeStore(a.stateDir, a.directory, a.domains).stored();
      return stored && { cert: stored.certFile, key: stored.keyFile };
    },
    onProxyProtocolError: () => metrics.rejected.inc({ reason: 'proxy_protocol' }),
    log,
    config: () => config,
  });
  const ownStatus = () => ({
    pid: process.pid,
    ...(workers > 1 ? { worker: WORKER } : {}),
    config: config.file,
    draining,
    upstreams: [...state.upstreams.values()].map((u) => u.stats()),
    processes,
  });
  const reports = new WorkerReports(async (what) => (what === 'metrics' ? metrics.registry.metrics() : ownStatus()));
  const admin = createAdminServer({
    registry: metrics.registry,
    ready: () => !draining,
    metricsText: async () => workersMetrics(await reports.collect('metrics')),
    status: async () => workersStatus(ownStatus(), await reports.collect('status')),
    reload: () => {
      toOtherWorkers({ type: 'reload' });
      return reload('POST /reload');
    },
    targets: (self) => targets(self, state.upstreams.values()),
    backends: () => [...new Set([...state.upstreams.values()].flatMap((u) => u.servers.map((s) => s.url)))],
    restartPool: () => {
      if (!supervised || !process.send) return false;
      process.send({ type: 'pool-restart' });
      return true;
    },
    restartProxy: () => {
      if (!masterHoldsSockets()) return false;
      process.send!({ type: 'proxy-restart' });
      return true;
    },
    token: () => config.adminToken,
    purgeCache: (match) => {
      toOtherWorkers({ type: 'purge', match });
      return purge(match);
    },
  });
  const purge = (match: PurgeMatch) => {
    const purged = state.cache.purge(match);
    log.info({ ...match, purged }, 'cache purge');
    return purged;
  };
  // Each worker has its own cache and reads the file itself: an admin reload or purge taken by one is done by all.
  const toOtherWorkers = (message: WorkersBroadcastMessage['message']) => {
    if (workers > 1) process.send?.({ type: 'broadcast', message } satisfies WorkersBroadcastMessage);
  };
  const adminDrainer = trackConnections(admin);

  // tls.acme: ordered, stored and renewed in the state directory; remade when a reload changes it.
  let acme: AcmeManager | undefined;
  const startAcme = (next: PorticoConfig) => {
    const previous = acme;
    acme = next.tls?.acme ? new AcmeManager(next.tls.acme, log, {
      onOrder: (kind, ok) => metrics.acmeOrders.inc({ kind, result: ok ? 'success' : 'failure' }),
      onCertificate: (files) => {
        metrics.acmeLastSuccess.set({ certificate: next.tls!.acme!.domains[0]! }, Math.floor(statSync(files.cert).mtimeMs / 1000));
        void listeners.refreshCertificates();
      },
    }) : undefined;
    // The previous manager's order (if one runs) ends first: two orders side by side would waste the CA's limits.
    const next_ = acme;
    void (previous?.stop() ?? Promise.resolve()).then(() => next_?.start());
  };

  // Know the pool before accepting: a proxy restarted under load must not answer 503 for want of the master's word.
  const poolKnown = new Promise<void>((resolve) => {
    if (!supervised) return resolve();
    process.on('message', (message) => {
      if (!isIpcMessage(message) || message.type !== 'pool') return;
      processes = message.processes;
      localServers = message.servers;
      applyLocalServers(state, config.pool.upstream, localServers);
      resolve();
    });
    process.send!({ type: 'pool-request' });
    setTimeout(resolve, POOL_WAIT_MS).unref();
  });
  await poolKnown;

  try {
    await listeners.apply(config);
    await listenOn(admin, 'listen.admin', config.listen.admin.host, config.listen.admin.port);
  } catch (err) {
    if (!(err instanceof ListenError)) throw err;
    // A restart cannot free the port: say so once and end the start (the master stops the rest).
    return exitOnListenError(err, log);
  }
  startAcme(config);
  const httpAddress = listeners.address(listeners.http)!;
  const adminAddress = admin.address() as AddressInfo;
  log.info({ http: httpAddress, https: listeners.httpsPort, admin: adminAddress, config: config.file }, 'proxy listening');
  if (process.connected) process.send?.({ type: 'ready', http: httpAddress.port, https: listeners.httpsPort, admin: adminAddress.port });

  /** Validates the file, then applies it in place; resolves to the error when the file was refused. */
  let reloading = Promise.resolve<string | undefined>(undefined);
  const reload = (source: string): Promise<string | undefined> => {
    reloading = reloading.then(async () => {
      try {
        watcher.resync();
        const next = loadConfig(config.file);
        if (JSON.stringify(next.listen.admin) !== JSON.stringify(config.listen.admin)) log.warn('the admin listener\'s address applies when the proxy restarts');
        const nextAccessLog = openAccessLog(next.accessLogFile);
        let nextState: ProxyState;
        const nextConfig = { ...next, listen: { ...next.listen, admin: config.listen.admin } };
        try {
          await listeners.apply(next, config);
          nextState = buildState(nextConfig, { supervised, metrics, log, fetchWithRetries, workers }, state);
        } catch (err) {
          if (nextAccessLog !== accessLogFile) void nextAccessLog?.close();
          throw err;
        }
        const acmeChanged = JSON.stringify(next.tls?.acme) !== JSON.stringify(config.tls?.acme);
        config = nextConfig;
        if (acmeChanged) startAcme(config);
        state = nextState;
        useAccessLog(nextAccessLog);
        applyLocalServers(state, config.pool.upstream, localServers);
        metrics.configReloads.inc({ result: 'success' });
        metrics.configLastReloadSuccess.set(1);
        log.info({ config: config.file, source }, 'config reloaded');
        return undefined;
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        metrics.configReloads.inc({ result: 'failure' });
        metrics.configLastReloadSuccess.set(0);
        log.error({ error: message, source }, 'config reload failed; keeping the running config');
        return message;
      }
    });
    return reloading;
  };
  onHangup = () => void reload('SIGHUP');
  // Registered once `reload` exists: a worker still starting reads the file anyway when it gets there.
  process.on('message', (message) => {
    if (!isIpcMessage(message)) return;
    if (message.type === 'reload') void reload('POST /reload on another worker');
    if (message.type === 'purge') purge(message.match);
  });
  const watcher = watchConfigFile(config.file, () => void reload('file change'));

  onShutdownSignal((reason) => {
    draining = true;
    log.info({ reason }, 'draining');
    watcher.stop();
    void acme?.stop();
    // The admin listener drains like the others: a scrape on a kept-alive connection must not meet a reset.
    drainAndExit({ drain: () => Promise.all([listeners.drain(), adminDrainer.drain()]).then(() => undefined) }, log, DRAIN_TIMEOUT_MS, () => {
      forwarder.close();
      accessLog.flush();
      return Promise.all([flushSpans(state.tracing), accessLogFile?.close()]).then(() => undefined);
    });
  });
}
