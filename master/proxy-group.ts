/**
 * The proxy processes (`proxy.workers` of them) on the master's sockets: each is
 * a supervised child that asks the master for its listening sockets, and a
 * restart replaces them one at a time without a refused connection — the new
 * process starts on the same sockets, and only once it is ready does the old one
 * drain (stop accepting, finish its requests, close its idle connections).
 */
import { EventEmitter } from 'node:events';
import { isIpcMessage, type CollectMessage, type CollectReplyMessage, type ListenReplyMessage, type ListenRequestMessage, type ReportKind, type ReportRequestMessage } from '../lib/ipc.js';
import { ListenError } from '../lib/listen-error.js';
import type { Logger } from '../lib/log.js';
import { CLI_SCRIPT } from '../lib/paths.js';
import { SupervisedChild } from './child.js';
import type { HeldListeners } from './held-listeners.js';

/** How long a worker has to send its report for an admin answer that covers all workers. */
const REPORT_TIMEOUT_MS = 1000;

/** A draining proxy has this long (its own drain timeout is 30 s) before SIGKILL. */
const STOP_TIMEOUT_MS = 35_000;

export class ProxyGroup extends EventEmitter<{ change: []; message: [SupervisedChild, unknown]; fatal: [string] }> {
  /** The serving workers, in order (proxy-1 …). */
  readonly workers: SupervisedChild[] = [];
  /** Workers replaced by a restart, still draining. */
  private readonly draining = new Set<SupervisedChild>();
  /** A new worker of a restart, not yet serving. */
  private starting: SupervisedChild | undefined;
  private restarting: Promise<boolean> | undefined;
  /** A restart asked for while one runs: done once that one ends (it may follow a new build or a new `proxy.workers`). */
  private restartAgain: { count: () => number; done: Promise<boolean> } | undefined;
  private stopped = false;
  private generation = 0;
  private reportId = 0;
  /** Reports asked for, by their id (unique in the group: each goes to one worker). */
  private readonly reportWaiting = new Map<number, (body: unknown) => void>();

  constructor(
    private readonly configFile: string,
    private readonly held: HeldListeners,
    private readonly log: Logger,
    private readonly failFastOnListenError: () => boolean,
  ) {
    super();
  }

  /** Starts `count` workers. */
  start(count: number): void {
    for (let i = 0; i < count; i++) {
      const worker = this.make(i, count);
      this.workers.push(worker);
      worker.start();
    }
  }

  /** Every proxy process that runs: the serving ones and those still draining. */
  all(): SupervisedChild[] {
    return [...this.workers, ...(this.starting ? [this.starting] : []), ...this.draining];
  }

  /** The workers that serve now: where an admin request taken by one of them is repeated. */
  serving(): SupervisedChild[] {
    return this.workers.filter((w) => w.state === 'ready');
  }

  send(message: unknown): void {
    for (const worker of this.all()) worker.send(message);
  }

  signal(signal: NodeJS.Signals): void {
    for (const worker of this.all()) worker.signal(signal);
  }

  /**
   * Replaces every worker, one at a time, by a new process on the same sockets
   * (`count` of them: the config's `proxy.workers` now). Resolves false if a new
   * worker did not become ready: that one is stopped and the old ones keep serving.
   */
  restart(count: () => number): Promise<boolean> {
    if (!this.restarting) {
      this.restarting = this.replaceAll(count()).finally(() => { this.restarting = undefined; });
      return this.restarting;
    }
    let again = this.restartAgain;
    if (!again) {
      const queued: { count: () => number; done: Promise<boolean> } = { count, done: Promise.resolve(false) };
      queued.done = this.restarting.then((): Promise<boolean> | boolean => {
        this.restartAgain = undefined;
        return this.stopped ? false : this.restart(queued.count);
      });
      again = this.restartAgain = queued;
    }
    again.count = count;
    return again.done;
  }

  /** Stops every proxy (the serving, the starting and the draining ones); a restart under way ends. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const worker of this.all()) worker.retire();
    await Promise.all(this.all().map((w) => w.stop()));
  }

  private async replaceAll(count: number): Promise<boolean> {
    const old = [...this.workers];
    this.log.info({ from: old.length, to: count }, 'proxy restart: starting new proxies on the same sockets');
    for (let i = 0; i < Math.max(count, old.length); i++) {
      if (this.stopped) return false;
      const previous = old[i];
      if (i >= count) {
        this.workers.splice(this.workers.indexOf(previous!), 1);
        await this.drain(previous!);
        continue;
      }
      const next = this.make(i, count);
      this.starting = next;
      next.start();
      const ready = await readyOrNot(next);
      this.starting = undefined;
      if (!ready || this.stopped) {
        if (!this.stopped) this.log.error({ child: next.spec.name }, 'proxy restart: the new proxy did not become ready; the running ones keep serving');
        await next.stop();
        this.emit('change');
        return false;
      }
      if (previous) this.workers[this.workers.indexOf(previous)] = next;
      else this.workers.push(next);
      this.emit('change');
      if (previous) await this.drain(previous);
    }
    this.log.info({ workers: this.workers.map((w) => w.pid) }, 'proxy restart: done');
    return true;
  }

  /** Stops an old worker gracefully; the new one already accepts on the same sockets. */
  private async drain(worker: SupervisedChild): Promise<void> {
    this.draining.add(worker);
    this.emit('change');
    await worker.stop();
    this.draining.delete(worker);
    this.emit('change');
  }

  private make(index: number, count: number): SupervisedChild {
    const worker = new SupervisedChild({
      name: count === 1 ? 'proxy' : `proxy-${index + 1}`,
      script: CLI_SCRIPT,
      args: ['proxy', '--config', this.configFile],
      env: { PORTICO_HELD_SOCKETS: '1', PORTICO_PROXY_WORKER: String(index + 1), PORTICO_PROXY_WORKERS: String(count) },
      stopTimeoutMs: STOP_TIMEOUT_MS,
      failFastOnListenError: this.failFastOnListenError,
    }, this.log);
    // One holder per process: a process that exits gives back what it held (its successor asks for what it needs).
    let holder = '';
    let pid: number | undefined;
    worker.on('change', () => {
      if (worker.pid !== pid) {
        if (holder) this.held.releaseAll(holder);
        pid = worker.pid;
        holder = `${worker.spec.name}#${++this.generation}`;
      }
      if (worker.state === 'backoff' || worker.state === 'crash-loop' || worker.state === 'stopped') this.held.releaseAll(holder);
      this.emit('change');
    });
    worker.on('fatal', (message) => this.emit('fatal', message));
    worker.on('message', (message) => {
      if (isIpcMessage(message) && message.type === 'listen') return void this.answerListen(worker, holder, message);
      if (isIpcMessage(message) && message.type === 'listen-release') return this.held.release(holder, message.key, message);
      if (isIpcMessage(message) && message.type === 'broadcast') return this.serving().forEach((w) => { if (w !== worker) w.send(message.message); });
      if (isIpcMessage(message) && message.type === 'collect') return void this.collect(worker, message);
      if (isIpcMessage(message) && message.type === 'report-reply') return this.reportWaiting.get(message.id)?.(message.body);
      this.emit('message', worker, message);
    });
    return worker;
  }

  private async answerListen(worker: SupervisedChild, holder: string, request: ListenRequestMessage): Promise<void> {
    try {
      const { handle } = await this.held.hold(request.key, request, holder);
      worker.send({ type: 'listen-reply', id: request.id } satisfies ListenReplyMessage, handle);
    } catch (err) {
      const error = err instanceof ListenError ? { address: err.address, code: err.code, message: err.message } : { address: `${request.host ?? '0.0.0.0'}:${request.port}`, code: '', message: String(err) };
      worker.send({ type: 'listen-reply', id: request.id, error } satisfies ListenReplyMessage);
    }
  }

  /** Every serving worker's report of `what`, for the worker whose admin listener took the request. */
  private async collect(asker: SupervisedChild, request: CollectMessage): Promise<void> {
    const serving = this.workers.map((w, i) => ({ w, worker: i + 1 })).filter(({ w }) => w.state === 'ready');
    const reports = await Promise.all(serving.map(async ({ w, worker }) => ({ worker, body: await this.report(w, request.what) })));
    asker.send({ type: 'collect-reply', id: request.id, reports: reports.filter((r) => r.body !== undefined) } satisfies CollectReplyMessage);
  }

  /** Asks one worker for its report; undefined when it does not answer in time. */
  private report(worker: SupervisedChild, what: ReportKind): Promise<unknown> {
    const id = ++this.reportId;
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.reportWaiting.delete(id); resolve(undefined); }, REPORT_TIMEOUT_MS);
      this.reportWaiting.set(id, (body) => { clearTimeout(timer); this.reportWaiting.delete(id); resolve(body); });
      worker.send({ type: 'report', id, what } satisfies ReportRequestMessage);
    });
  }
}


/** Resolves once `child` is ready (true) or has failed its start (false). */
function readyOrNot(child: SupervisedChild): Promise<boolean> {
  return new Promise((resolve) => {
    const check = () => {
      if (child.state === 'starting') return;
      child.off('change', check);
      resolve(child.state === 'ready');
    };
    child.on('change', check);
    check();
  });
}
