/**
 * The master: supervises the proxy and the local backends. It serves no traffic;
 * it starts children, restarts whichever dies, tells the proxy which local
 * backends are ready, follows `pool.processes` in the config file, replaces the
 * backends one by one on request, forwards SIGHUP, and on SIGTERM/SIGINT drains
 * the tree: proxy first (no new requests), then the backends (finish in-flight work).
 */
import { availableParallelism } from 'node:os';
import { loadConfig, type PorticoConfig } from '../lib/config/load.js';
import { watchConfigFile } from '../lib/config/watch.js';
import { isIpcMessage, type PoolMessage, type ReadyMessage } from '../lib/ipc.js';
import { createLogger } from '../lib/log.js';
import { CLI_SCRIPT } from '../lib/paths.js';
import { SupervisedChild } from './child.js';
import { BackendPool } from './pool.js';

export async function runMaster(config: PorticoConfig): Promise<void> {
  const log = createLogger('master');
  // SIGHUP's default action ends the process: take it over before starting anything.
  let onHangup = () => log.info('SIGHUP before start-up finished: ignored');
  process.on('SIGHUP', () => onHangup());
  let watcher: ReturnType<typeof watchConfigFile> | undefined;
  // The children started with the system end the start if they cannot bind (nginx's way);
  // children started later (a pool grown by a reload) are retried with backoff.
  let startingUp = true;
  const failFastOnListenError = () => startingUp;
  const proxy = new SupervisedChild({
    name: 'proxy',
    script: CLI_SCRIPT,
    args: ['proxy', '--config', config.file],
    stopTimeoutMs: 35_000,
    failFastOnListenError,
  }, log);
  const announce = () => {
    const message: PoolMessage = {
      type: 'pool',
      servers: pool.servers(),
      processes: [proxy, ...pool.backends].map((c) => ({ name: c.spec.name, state: c.state, restarts: c.restarts, pid: c.pid })),
    };
    proxy.send(message);
  };
  const pool = new BackendPool(config.pool, log, announce, failFastOnListenError);
  proxy.on('change', announce);

  let stopping = false;
  const shutdown = async (signal: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    watcher?.stop();
    log.info({ signal }, 'stopping: draining the proxy, then the backends');
    for (const child of [proxy, ...pool.backends]) child.retire();
    await proxy.stop();
    await Promise.all(pool.backends.map((b) => b.stop()));
    log.info('stopped');
    process.exit(exitCode);
  };

  let announcedUrls = false;
  proxy.on('change', () => {
    if (proxy.state !== 'ready' || announcedUrls) return;
    announcedUrls = true;
    log.info({ http: proxy.ready!.http, https: proxy.ready!.https, admin: proxy.ready!.admin }, 'portico ready');
    printUrls(proxy.ready!, config);
  });
  proxy.on('message', (message: unknown) => {
    if (isIpcMessage(message) && message.type === 'pool-restart') void pool.rollingRestart();
  });

  // A listener that cannot bind ends the start (nginx's way), with the address and the reason.
  const onFatal = (message: string) => {
    if (stopping) return; // one line, even when the proxy and a backend both fail
    log.error({ reason: message }, 'cannot start');
    process.stderr.write(`portico: ${message}\n`);
    void shutdown('start failed', 1);
  };
  proxy.on('fatal', onFatal);
  pool.onFatal = onFatal;

  log.info({ config: config.file, backends: config.pool.processes, cores: availableParallelism() }, 'starting');
  void pool.resize(config.pool.processes); // starts the first backends before it awaits anything
  proxy.start();
  startingUp = false;

  // The proxy reloads routes and upstreams itself; the master follows the pool's size.
  const followPool = (source: string) => {
    let next: PorticoConfig;
    try {
      next = loadConfig(config.file);
    } catch {
      return; // the proxy logs the error with its line and key
    }
    if (JSON.stringify({ ...next.pool, processes: 0 }) !== JSON.stringify({ ...config.pool, processes: 0 })) {
      log.warn({ source }, 'pool settings other than processes apply when Portico restarts');
    }
    if (next.pool.processes !== pool.backends.length) {
      log.info({ source, from: pool.backends.length, to: next.pool.processes }, 'resizing the pool');
      void pool.resize(next.pool.processes);
    }
  };
  watcher = watchConfigFile(config.file, () => followPool('file change'));
  onHangup = () => {
    log.info('SIGHUP: reloading the config');
    proxy.signal('SIGHUP');
    watcher.resync();
    followPool('SIGHUP');
  };

  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

function printUrls(ready: ReadyMessage, config: PorticoConfig): void {
  const host = (h: string | undefined) => (h === undefined || h === '0.0.0.0' || h === '::' ? '127.0.0.1' : h.includes(':') ? `[${h}]` : h);
  const http = `http://${host(config.listen.http.host)}:${ready.http}`;
  const admin = `http://${host(config.listen.admin.host)}:${ready.admin}`;
  const https = ready.https ? `  https://${host(config.listen.https.host)}:${ready.https}/                HTTPS${config.tls?.auto ? ' (self-signed development certificate)' : ''}\n` : '';
  process.stderr.write(`\nPortico is serving:\n  ${http}/                 demo page\n  ${http}/api/foo?val=1000  inference API\n${https}  ${admin}/metrics          Prometheus metrics\n  ${admin}/status           pool status\n\n`);
}
