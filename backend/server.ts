/**
 * Runs one inference backend: loads the core, serves the API, and on SIGTERM
 * (or when its master goes away) stops accepting, finishes in-flight work, exits.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { drainAndExit, onShutdownSignal, trackConnections } from '../lib/drain.js';
import { createLogger } from '../lib/log.js';
import type { TracingConfig } from '../lib/config/load.js';
import { createTracingCounters, flushSpans, loggedExportHealth, startTracing } from '../lib/tracing/tracer.js';
import { exitOnListenError, listenErrorOf } from '../lib/listen-error.js';
import { createApp, type BackendState } from './app.js';
import { loadCore } from './core.js';
import { createBackendMetrics } from './metrics.js';
import { Slots } from './slots.js';

export interface BackendOptions {
  host: string;
  port: number;
  slots: number;
  queue: number;
  /** Seconds caches may keep a result (Cache-Control max-age); 0 → no-store. */
  cacheMaxAge?: number;
  /** How long in-flight work may take to finish after SIGTERM before the process exits anyway. */
  drainTimeoutMs?: number;
  /** OpenTelemetry tracing of the API's requests, when on. */
  tracing?: TracingConfig;
}

export async function runBackend(options: BackendOptions): Promise<void> {
  const log = createLogger('backend');
  // Signals meant for the master (systemctl kill without --kill-whom=main reaches every process of the
  // unit): SIGUSR1 would open Node's inspector, SIGUSR2's default action ends the process.
  process.on('SIGUSR1', () => log.info('SIGUSR1: nothing to reopen (a backend logs to stdout)'));
  process.on('SIGUSR2', () => log.info('SIGUSR2 is for the master (it restarts the proxies): ignored'));
  const core = loadCore();
  const slots = new Slots(options.slots, options.queue);
  const state: BackendState = { draining: false };
  const metrics = createBackendMetrics(slots, core.version);
  const tracing = options.tracing && startTracing(options.tracing, 'portico-backend', createTracingCounters(metrics.registry), loggedExportHealth(log));
  const app = createApp(core, slots, metrics, state, options.cacheMaxAge ?? 3600, tracing?.tracer);
  const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  if (options.slots > threads) {
    log.warn({ slots: options.slots, threads }, `only ${threads} native calls can run at once: set UV_THREADPOOL_SIZE to at least ${options.slots}`);
  }

  const server = serve({ fetch: app.fetch, hostname: options.host, port: options.port }) as Server;
  // A keep-alive peer (the proxy) must close idle sockets before we do, or it races our close.
  server.keepAliveTimeout = 65_000;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
  } catch (err) {
    return exitOnListenError(listenErrorOf(err, process.connected ? 'pool.base_port' : '--port', options.host, options.port), log);
  }
  const port = (server.address() as AddressInfo).port;
  log.info({ host: options.host, port, slots: options.slots, queue: options.queue, core: core.version, tracing: options.tracing ? options.tracing.otlp ?? 'OTEL_EXPORTER_OTLP_ENDPOINT' : 'off' }, 'backend ready');
  process.send?.({ type: 'ready', port });

  const drainer = trackConnections(server);
  onShutdownSignal((reason) => {
    state.draining = true;
    log.info({ reason, ...slots.stats() }, 'draining');
    drainAndExit(drainer, log, options.drainTimeoutMs ?? 30_000, () => flushSpans(tracing));
  });
}
