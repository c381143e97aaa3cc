/**
 * The master: holds the listening sockets and supervises the proxies and the
 * local backends. It serves no traffic: it binds every listener before any child
 * starts, hands the sockets to the proxy processes, restarts whichever child dies
 * (new connections wait in the backlog meanwhile), tells the proxies which local
 * backends are ready, follows `pool.processes` in the config file, replaces the
 * backends one by one on request and the proxies without downtime (POST
 * /proxy/restart, SIGUSR2), forwards SIGHUP, and on SIGTERM/SIGINT drains the
 * tree: proxies first (no new requests), then the backends (finish in-flight work).
 */
import { availableParallelism } from 'node:os';
import { loadConfig, type PorticoConfig } from '../lib/config/load.js';
import { watchConfigFile } from '../lib/config/watch.js';
import { isIpcMessage, type PoolMessage, type ReadyMessage } from '../lib/ipc.js';
import { ListenError } from '../lib/listen-error.js';
import { createLogger, type Logger } from '../lib/log.js';
import { LogFile } from '../lib/log-file.js';
import { bannerOf } from './banner.js';
import { HeldListeners, type RequestedAddress } from './held-listeners.js';
import { BackendPool } from './pool.js';
import { ProxyGroup } from './proxy-group.js';

export async function runMaster(config: PorticoConfig): Promise<void> {
  const log = createLogger('master');
  // SIGHUP's default action ends the process: take it over before starting anything.
  let onHangup = () => log.info('SIGHUP before start-up finished: ignored');
  process.on('SIGHUP', () => onHangup());
  let onRestartProxy = () => log.info('SIGUSR2 before start-up finished: ignored');
  process.on('SIGUSR2', () => onRestartProxy());
  // SIGUSR1 would start Node's inspector: here it asks the proxies to reopen their log files (logrotate).
  let onReopen = () => log.info('SIGUSR1 before start-up finished: ignored');
  process.on('SIGUSR1', () => onReopen());
  if (config.accessLogFile !== undefined) checkLogFile(config.accessLogFile, log);
  let watcher: ReturnType<typeof watchConfigFile> | undefined;

  // Every listener is bound before any child starts (nginx's way): a taken port ends the start here.
  const held = new HeldListeners();
  try {
    for (const [key, address] of listenersOf(config)) await held.hold(key, address);
  } catch (err) {
    held.closeAll();
    if (!(err instanceof ListenError)) throw err;
    log.error({ address: err.address, key: err.key, code: err.code }, err.message);
    process.stderr.write(`portico: ${err.message}\n`);
    process.exit(1);
  }
  held.want(listenersOf(config));

  // The children started with the system end the start if they cannot bind (nginx's way);
  // children started later (a pool grown by a reload) are retried with backoff.
  let startingUp = true;
  const failFastOnListenError = () => startingUp;
  const proxies = new ProxyGroup(config.file, held, log, failFastOnListenError);
  const processList = () => [...proxies.all(), ...pool.backends].map((c) => ({ name: c.spec.name, state: c.state, restarts: c.restarts, pid: c.pid }));
  const poolMessage = (): PoolMessage => ({ type: 'pool', servers: pool.servers(), processes: processList() });
  const announce = () => proxies.send(poolMessage());
  const pool = new BackendPool(config.pool, log, announce, failFastOnListenError);
  pool.tracing = config.tracing;
  proxies.on('change', announce);

  let stopping = false;
  const shutdown = async (signal: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    watcher?.stop();
    log.info({ signal }, 'stopping: draining the proxy, then the backends');
    for (const child of pool.backends) child.retire();
    const proxiesStopped = proxies.stop();
    // The proxies stop accepting now: the master's copies must not keep new connections waiting for no one.
    held.closeAll();
    await proxiesStopped;
    await Promise.all(pool.backends.map((b) => b.stop()));
    log.info('stopped');
    process.exit(exitCode);
  };

  let announcedUrls = false;
  proxies.on('change', () => {
    const first = proxies.workers[0];
    if (first?.state !== 'ready' || announcedUrls) return;
    announcedUrls = true;
    log.info({ http: first.ready!.http, https: first.ready!.https, admin: first.ready!.admin, workers: proxies.workers.length }, 'portico ready');
    process.stderr.write(bannerOf(first.ready!, config));
  });
  const restartProxies = (source: string) => {
    log.info({ source }, 'restarting the proxy without downtime');
    void proxies.restart(() => latestConfig(config.file)?.proxyWorkers ?? proxies.workers.length);
  };
  proxies.on('message', (worker, message: unknown) => {
    if (!isIpcMessage(message)) return;
    if (message.type === 'pool-request') worker.send(poolMessage());
    else if (message.type === 'pool-restart') void pool.rollingRestart();
    else if (message.type === 'proxy-restart') restartProxies('POST /proxy/restart');
  });

  // A listener that cannot bind ends the start (nginx's way), with the address and the reason.
  const onFatal = (message: string) => {
    if (stopping) return; // one line, even when the proxy and a backend both fail
    log.error({ reason: message }, 'cannot start');
    process.stderr.write(`portico: ${message}\n`);
    void shutdown('start failed', 1);
  };
  proxies.on('fatal', onFatal);
  pool.onFatal = onFatal;

  log.info({ config: config.file, backends: config.pool.processes, proxies: config.proxyWorkers, cores: availableParallelism() }, 'starting');
  void pool.resize(config.pool.processes); // starts the first backends before it awaits anything
  proxies.start(config.proxyWorkers);
  startingUp = false;

  // The proxy reloads routes and upstreams itself; the master follows the pool's size and keeps the listeners the file names.
  const followConfig = (source: string) => {
    const next = latestConfig(config.file);
    if (!next) return; // the proxy logs the error with its line and key
    held.want(listenersOf(next));
    if (JSON.stringify({ ...next.pool, processes: 0 }) !== JSON.stringify({ ...config.pool, processes: 0 })) {
      log.warn({ source }, 'pool settings other than processes apply when Portico restarts');
    }
    if (next.proxyWorkers !== proxies.workers.length) {
      log.warn({ source, running: proxies.workers.length, configured: next.proxyWorkers }, 'proxy.workers applies at the next proxy restart (POST /proxy/restart or SIGUSR2)');
    }
    pool.tracing = next.tracing;
    if (next.pool.processes !== pool.backends.length) {
      log.info({ source, from: pool.backends.length, to: next.pool.processes }, 'resizing the pool');
      void pool.resize(next.pool.processes);
    }
  };
  watcher = watchConfigFile(config.file, () => followConfig('file change'));
  onHangup = () => {
    log.info('SIGHUP: reloading the config');
    proxies.signal('SIGHUP');
    watcher.resync();
    followConfig('SIGHUP');
  };
  onRestartProxy = () => restartProxies('SIGUSR2');
  onReopen = () => {
    log.info('SIGUSR1: the proxies reopen their log files');
    proxies.signal('SIGUSR1');
  };

  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

/** The config file as it is now, or undefined when it is invalid (the running config stays). */
function latestConfig(file: string): PorticoConfig | undefined {
  try {
    return loadConfig(file);
  } catch {
    return undefined;
  }
}

/** Like nginx -t: a log file the proxies could not open ends the start here, not in a restart loop. */
function checkLogFile(path: string, log: Logger): void {
  try {
    new LogFile(path).close();
  } catch (err) {
    log.error({ file: path }, (err as Error).message);
    process.stderr.write(`portico: ${(err as Error).message} (access_log.file)\n`);
    process.exit(1);
  }
}

/** The listeners a config asks for, by key: the master binds and keeps these. */
function listenersOf(config: PorticoConfig): Array<[string, RequestedAddress]> {
  const { http, https, admin } = config.listen;
  return [['listen.http', http], ...(config.tls ? [['listen.https', https] as [string, RequestedAddress]] : []), ['listen.admin', admin]];
}

