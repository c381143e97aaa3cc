/**
 * The local backend pool: one supervised child per backend, grown or shrunk
 * when `pool.processes` changes, and replaced one at a time on a rolling
 * restart. A backend leaving the pool is announced as draining first, so the
 * proxy sends it nothing new, then stopped with SIGTERM: it finishes what it has.
 */
import type { PoolConfig, TracingConfig } from '../lib/config/load.js';
import type { Logger } from '../lib/log.js';
import { CLI_SCRIPT } from '../lib/paths.js';
import type { LocalServer } from '../lib/ipc.js';
import { SupervisedChild } from './child.js';

const PROBE_INTERVAL_MS = 50;
/** Between telling the proxy a backend drains and sending it SIGTERM: the proxy's IPC round trip, with room. */
const DRAIN_GRACE_MS = 250;

export class BackendPool {
  readonly backends: SupervisedChild[] = [];
  private restarting = false;
  /** Called when a backend's first start cannot bind its port (its message says which and why). */
  onFatal: (message: string) => void = () => {};

  /**
   * `onChange`: a backend changed state. `failFastOnListenError`: whether a backend
   * that cannot bind its port ends the start (while the system starts) or is retried.
   */
  /** The config's `tracing`, passed to backends as they start (a change reaches running ones at POST /pool/restart). */
  tracing: TracingConfig | undefined;

  constructor(private readonly pool: PoolConfig, private readonly log: Logger, private readonly onChange: () => void, private readonly failFastOnListenError: () => boolean = () => false) {}

  /** Starts or stops backends until there are `processes` of them (the newest go first). */
  async resize(processes: number): Promise<void> {
    while (this.backends.length < processes) {
      const backend = this.make(this.backends.length);
      this.backends.push(backend);
      backend.start();
    }
    const leaving = this.backends.splice(processes);
    if (leaving.length > 0) this.log.info({ leaving: leaving.map((b) => b.spec.name) }, 'shrinking the pool');
    await Promise.all(leaving.map(async (b) => {
      await b.stop(DRAIN_GRACE_MS);
      this.onChange();
    }));
  }

  /** Replaces every backend, one at a time, each only after its successor is ready. */
  async rollingRestart(): Promise<boolean> {
    if (this.restarting) return false;
    this.restarting = true;
    try {
      for (const backend of [...this.backends]) {
        if (!this.backends.includes(backend)) continue;
        this.log.info({ child: backend.spec.name }, 'rolling restart: replacing');
        if (!(await backend.replace(DRAIN_GRACE_MS))) this.log.error({ child: backend.spec.name }, 'rolling restart: the new backend did not become ready');
      }
      return true;
    } finally {
      this.restarting = false;
    }
  }

  /** The local servers as the proxy should see them. */
  servers(): LocalServer[] {
    const host = this.pool.host.includes(':') ? `[${this.pool.host}]` : this.pool.host;
    return this.backends.flatMap((b, i) => {
      // A backend on a fixed port keeps its URL across restarts; one on port 0 gets a new one.
      const port = b.ready?.port ?? (this.pool.basePort === 0 ? undefined : this.pool.basePort + i);
      if (port === undefined) return [];
      return [{ url: `http://${host}:${port}`, state: b.state === 'ready' ? 'ready' : b.state === 'stopping' ? 'draining' : 'down', pid: b.pid }];
    });
  }

  private make(i: number): SupervisedChild {
    const { host, basePort, slots, queue, cacheMaxAge } = this.pool;
    const urlHost = host.includes(':') ? `[${host}]` : host;
    const child = new SupervisedChild({
      name: `backend-${i + 1}`,
      script: CLI_SCRIPT,
      args: ['backend', '--host', host, '--port', String(basePort === 0 ? 0 : basePort + i), '--slots', String(slots), '--queue', String(queue), '--cache-max-age', String(cacheMaxAge), ...tracingArgs(this.tracing)],
      // koffi's async calls run on libuv's pool: give every slot a thread, and fs/dns some room.
      // Tracing follows the config, not an OTEL_* endpoint the master's environment may have.
      env: { UV_THREADPOOL_SIZE: String(Math.max(4, slots + 2)), ...(this.tracing ? {} : { OTEL_SDK_DISABLED: 'true' }) },
      probe: (ready, signal) => waitForReadyz(`http://${urlHost}:${ready.port}/readyz`, signal),
      readyTimeoutMs: 30_000,
      failFastOnListenError: this.failFastOnListenError,
    }, this.log);
    child.on('change', this.onChange);
    child.on('fatal', (message) => this.onFatal(message));
    return child;
  }
}

/** The backend's tracing flags: its spans go where the proxy's go, sampled as their parent was. */
function tracingArgs(tracing: TracingConfig | undefined): string[] {
  if (!tracing) return [];
  // Without `otlp` the backend, as the proxy, exports where OTEL_EXPORTER_OTLP_ENDPOINT says.
  return [...(tracing.otlp ? ['--otlp', tracing.otlp] : []), '--trace-sample', String(tracing.sample)];
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
