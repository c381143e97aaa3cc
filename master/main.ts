/**
 * The master: supervises the proxy and the local backends. It serves no traffic;
 * it starts children, restarts whichever dies, tells the proxy which local
 * backends are ready, forwards SIGHUP, and on SIGTERM/SIGINT drains the tree:
 * proxy first (no new requests), then the backends (finish in-flight work).
 */
import { availableParallelism } from 'node:os';
import type { PorticoConfig } from '../lib/config/load.js';
import type { PoolMessage, ReadyMessage } from '../lib/ipc.js';
import { createLogger } from '../lib/log.js';
import { CLI_SCRIPT } from '../lib/paths.js';
import type { LocalServer } from '../proxy/upstream.js';
import { SupervisedChild } from './child.js';

const PROBE_INTERVAL_MS = 50;

export async function runMaster(config: PorticoConfig): Promise<void> {
  const log = createLogger('master');
  const urlHost = config.pool.host.includes(':') ? `[${config.pool.host}]` : config.pool.host;
  const threads = String(Math.max(4, config.pool.slots + 2));

  const backends = Array.from({ length: config.pool.processes }, (_, i) => {
    const port = config.pool.basePort === 0 ? 0 : config.pool.basePort + i;
    return new SupervisedChild({
      name: `backend-${i + 1}`,
      script: CLI_SCRIPT,
      args: ['backend', '--host', config.pool.host, '--port', String(port), '--slots', String(config.pool.slots), '--queue', String(config.pool.queue)],
      // koffi's async calls run on libuv's pool: give every slot a thread, and fs/dns some room.
      env: { UV_THREADPOOL_SIZE: threads },
      probe: (ready, signal) => waitForReadyz(`http://${urlHost}:${ready.port}/readyz`, signal),
      readyTimeoutMs: 30_000,
    }, log);
  });
  const proxy = new SupervisedChild({
    name: 'proxy',
    script: CLI_SCRIPT,
    args: ['proxy', '--config', config.file],
    stopTimeoutMs: 35_000,
  }, log);
  const children = [proxy, ...backends];

  const urlOf = (b: SupervisedChild) => (b.ready?.port ? `http://${urlHost}:${b.ready.port}` : undefined);
  // A backend on a fixed port keeps its URL across restarts; one on port 0 gets a new one.
  const fixedUrl = (i: number) => (config.pool.basePort === 0 ? undefined : `http://${urlHost}:${config.pool.basePort + i}`);
  const announce = () => {
    const servers: LocalServer[] = backends.flatMap((b, i) => {
      const url = urlOf(b) ?? fixedUrl(i);
      return url ? [{ url, state: b.state === 'ready' ? 'ready' : b.state === 'stopping' ? 'draining' : 'down' }] : [];
    });
    const message: PoolMessage = {
      type: 'pool',
      servers,
      processes: children.map((c) => ({ name: c.spec.name, state: c.state, restarts: c.restarts, pid: c.pid })),
    };
    proxy.send(message);
  };
  for (const child of children) child.on('change', announce);

  let announcedUrls = false;
  proxy.on('change', () => {
    if (proxy.state !== 'ready' || announcedUrls) return;
    announcedUrls = true;
    log.info({ http: proxy.ready!.http, https: proxy.ready!.https, admin: proxy.ready!.admin }, 'portico ready');
    printUrls(proxy.ready!, config);
  });

  log.info({ config: config.file, backends: backends.length, cores: availableParallelism() }, 'starting');
  for (const backend of backends) backend.start();
  proxy.start();

  process.on('SIGHUP', () => {
    log.info('SIGHUP: asking the proxy to reload its config');
    proxy.signal('SIGHUP');
  });
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: draining the proxy, then the backends');
    for (const child of children) child.retire();
    await proxy.stop();
    await Promise.all(backends.map((b) => b.stop()));
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

/** Polls a backend's /readyz until it answers 200. */
async function waitForReadyz(url: string, signal: AbortSignal): Promise<boolean> {
  while (!signal.aborted) {
    try {
      const res = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(1000)]) });
      await res.arrayBuffer();
      if (res.ok) return true;
    } catch {
      // not listening yet, or aborted
    }
    await new Promise((resolve) => setTimeout(resolve, PROBE_INTERVAL_MS));
  }
  return false;
}

function printUrls(ready: ReadyMessage, config: PorticoConfig): void {
  const host = (h: string | undefined) => (h === undefined || h === '0.0.0.0' || h === '::' ? '127.0.0.1' : h.includes(':') ? `[${h}]` : h);
  const http = `http://${host(config.listen.http.host)}:${ready.http}`;
  const admin = `http://${host(config.listen.admin.host)}:${ready.admin}`;
  const https = ready.https ? `  https://${host(config.listen.https.host)}:${ready.https}/                HTTPS${config.tls?.auto ? ' (self-signed development certificate)' : ''}\n` : '';
  process.stderr.write(`\nPortico is serving:\n  ${http}/                 demo page\n  ${http}/api/foo?val=1000  inference API\n${https}  ${admin}/metrics          Prometheus metrics\n  ${admin}/status           pool status\n\n`);
}
