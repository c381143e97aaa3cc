/**
 * The proxy process: loads the config, serves the HTTP listener and the admin
 * listener, follows the master's word on local backends, reloads on SIGHUP and
 * drains on SIGTERM (or when the master goes away).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, loadConfig, type PorticoConfig } from '../lib/config/load.js';
import { isIpcMessage, type SupervisedProcess } from '../lib/ipc.js';
import { createLogger } from '../lib/log.js';
import { createAdminServer } from './admin.js';
import { Forwarder } from './forward.js';
import { createHandler, type HandlerState } from './handler.js';
import { createProxyMetrics } from './metrics.js';
import { Router } from './router.js';
import { Upstream, type LocalServer } from './upstream.js';

/** How long an upstream may take to answer with headers (issue 4 makes this configurable). */
const RESPONSE_TIMEOUT_MS = 60_000;
const DRAIN_TIMEOUT_MS = 30_000;

export async function runProxy(configFile: string): Promise<void> {
  const log = createLogger('proxy');
  const supervised = process.connected;
  let config = loadConfig(configFile);
  let state = buildState(config, supervised);
  let processes: SupervisedProcess[] = [];
  let localServers: LocalServer[] = [];
  let draining = false;

  const forwarder = new Forwarder({ responseTimeoutMs: RESPONSE_TIMEOUT_MS });
  const metrics = createProxyMetrics(() => state.upstreams.values(), () => processes);
  metrics.configLastReloadSuccess.set(1);
  const handler = createHandler(() => state, forwarder, metrics, log);
  const server = createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
    handler(req, res).catch((err: Error) => {
      log.error({ err }, 'request handler failed');
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
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
  });

  await listen(server, config.listen.http.port, config.listen.http.host);
  await listen(admin, config.listen.admin.port, config.listen.admin.host);
  const httpAddress = server.address() as AddressInfo;
  const adminAddress = admin.address() as AddressInfo;
  log.info({ http: httpAddress, admin: adminAddress, config: config.file }, 'proxy listening');
  process.send?.({ type: 'ready', http: httpAddress.port, admin: adminAddress.port });

  process.on('message', (message) => {
    if (!isIpcMessage(message) || message.type !== 'pool') return;
    processes = message.processes;
    localServers = message.servers;
    applyLocalServers(state, config.pool.upstream, localServers);
  });

  process.on('SIGHUP', () => {
    try {
      const next = loadConfig(config.file);
      if (JSON.stringify(next.listen) !== JSON.stringify(config.listen)) {
        log.warn('listen addresses changed: they apply after a restart of the proxy');
      }
      config = next;
      state = buildState(next, supervised);
      applyLocalServers(state, next.pool.upstream, localServers);
      metrics.configReloads.inc({ result: 'success' });
      metrics.configLastReloadSuccess.set(1);
      log.info({ config: config.file }, 'config reloaded');
    } catch (err) {
      metrics.configReloads.inc({ result: 'failure' });
      metrics.configLastReloadSuccess.set(0);
      log.error({ error: err instanceof ConfigError ? err.message : String(err) }, 'config reload failed; keeping the running config');
    }
  });

  const stop = (reason: string) => {
    if (draining) return;
    draining = true;
    log.info({ reason }, 'draining');
    admin.close();
    server.close(() => {
      forwarder.close();
      log.info('drained, exiting');
      process.exit(0);
    });
    server.closeIdleConnections();
    setInterval(() => server.closeIdleConnections(), 100).unref();
    setTimeout(() => {
      log.warn('drain timed out, exiting');
      process.exit(1);
    }, DRAIN_TIMEOUT_MS).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  if (supervised) process.on('disconnect', () => stop('master gone'));
}

function buildState(config: PorticoConfig, supervised: boolean): HandlerState {
  const upstreams = new Map([...config.upstreams].map(([name, u]) => [name, new Upstream(u, supervised)]));
  return { router: new Router(config.routes), upstreams };
}

function applyLocalServers(state: HandlerState, poolUpstream: string, servers: LocalServer[]): void {
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
