/**
 * One supervised child process: start it, learn when it is ready, restart it
 * with backoff when it dies, stop it gracefully (SIGTERM, then SIGKILL).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { isIpcMessage, type ReadyMessage } from '../lib/ipc.js';
import { LISTEN_FAILED_EXIT_CODE } from '../lib/listen-error.js';
import type { Logger } from '../lib/log.js';
import { planRestart, type BackoffPolicy, DEFAULT_BACKOFF } from './backoff.js';

export type ChildState = 'starting' | 'ready' | 'backoff' | 'crash-loop' | 'stopping' | 'stopped';

export interface ChildSpec {
  name: string;
  /** Node script and its arguments. */
  script: string;
  args: string[];
  env?: Record<string, string>;
  /** Called with the child's 'ready' message; resolves true once the child answers its readiness check. */
  probe?: (ready: ReadyMessage, signal: AbortSignal) => Promise<boolean>;
  /** How long a child may take to become ready before it is killed and restarted. */
  readyTimeoutMs?: number;
  /** How long a child may drain after SIGTERM before SIGKILL. */
  stopTimeoutMs?: number;
  /**
   * Asked at the child's first start: whether that start is part of the system's
   * start-up. If so, failing to bind its listener (exit 78) before it was ever ready
   * ends the whole start rather than being retried; a child first started later
   * (a pool grown by a reload) and any restart of a child that was ready are retried.
   */
  failFastOnListenError?: () => boolean;
}

export class SupervisedChild extends EventEmitter<{ change: []; message: [unknown]; fatal: [string] }> {
  state: ChildState = 'stopped';
  restarts = 0;
  /** The child's ready message: the ports it listens on. */
  ready?: ReadyMessage;
  private process?: ChildProcess;
  private failures = 0;
  private startedAt = 0;
  private becameReady = false;
  private restartTimer?: NodeJS.Timeout;
  private probing?: AbortController;
  /** Set when the tree is stopping: an exit from now on is final, whoever sent the signal. */
  private retired = false;
  /** What the child said before it exited for good (its `fatal` message). */
  private fatalMessage: string | undefined;
  /** Its first start was part of the system's start-up: a bind failure before it was ever ready ends the start. */
  private failFast: boolean | undefined;
  private everReady = false;

  constructor(readonly spec: ChildSpec, private readonly log: Logger, private readonly backoff: BackoffPolicy = DEFAULT_BACKOFF) {
    super();
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  start(): void {
    this.failFast ??= this.spec.failFastOnListenError?.() ?? false;
    this.startedAt = Date.now();
    this.becameReady = false;
    this.ready = undefined;
    const child = spawn(process.execPath, [this.spec.script, ...this.spec.args], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, ...this.spec.env },
    });
    this.process = child;
    this.setState('starting');
    const readyTimer = setTimeout(() => {
      this.log.error({ child: this.spec.name, pid: child.pid }, 'not ready in time; killing it');
      child.kill('SIGKILL');
    }, this.spec.readyTimeoutMs ?? 30_000);
    child.on('message', (message) => {
      if (isIpcMessage(message) && message.type === 'fatal') return void (this.fatalMessage = message.message);
      if (isIpcMessage(message) && message.type !== 'ready') return void this.emit('message', message);
      if (!isIpcMessage(message) || message.type !== 'ready' || this.state !== 'starting') return;
      void this.confirmReady(child, message).then((ok) => { if (ok) clearTimeout(readyTimer); });
    });
    child.on('error', (err) => this.log.error({ child: this.spec.name, err }, 'spawn failed'));
    child.on('exit', (code, signal) => {
      clearTimeout(readyTimer);
      this.probing?.abort();
      if (this.process === child) this.process = undefined;
      // Its `fatal` message may still be on its way: 'exit' can come before the last 'message'; 'close' cannot.
      if (code === LISTEN_FAILED_EXIT_CODE) child.once('close', () => this.onExit(code, signal));
      else this.onExit(code, signal);
    });
  }

  /** No more restarts: the tree is stopping (a Ctrl-C reaches every child of the group at once). */
  retire(): void {
    this.retired = true;
    clearTimeout(this.restartTimer);
  }

  /**
   * SIGTERM, then SIGKILL after the stop timeout; resolves when the child has exited.
   * `graceMs`: time between announcing 'stopping' (the proxy stops sending to it) and the SIGTERM.
   */
  async stop(graceMs = 0): Promise<void> {
    this.retire();
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      this.setState('stopped');
      return;
    }
    this.setState('stopping');
    if (graceMs > 0) await new Promise((r) => setTimeout(r, graceMs));
    if (child.exitCode !== null || child.signalCode !== null) return;
    return new Promise((resolve) => {
      const killTimer = setTimeout(() => {
        this.log.warn({ child: this.spec.name, pid: child.pid }, 'did not stop in time; SIGKILL');
        child.kill('SIGKILL');
      }, this.spec.stopTimeoutMs ?? 30_000);
      child.once('exit', () => {
        clearTimeout(killTimer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }

  /** A planned replacement (rolling restart): drain and stop it, start a new one, resolve once that one is ready. */
  async replace(graceMs: number): Promise<boolean> {
    await this.stop(graceMs);
    this.retired = false;
    this.start();
    return new Promise((resolve) => {
      const onChange = () => {
        if (this.state === 'ready' || this.state === 'backoff' || this.state === 'crash-loop' || this.retired) {
          this.off('change', onChange);
          resolve(this.state === 'ready');
        }
      };
      this.on('change', onChange);
    });
  }

  /** Sends a signal to the running child (SIGHUP for a reload). */
  signal(signal: NodeJS.Signals): void {
    this.process?.kill(signal);
  }

  /** Sends an IPC message, with a socket handle (a listener the master holds) if given. */
  send(message: unknown, handle?: object): void {
    if (!this.process?.connected) return;
    const done = (err: Error | null) => { if (err) this.log.debug({ err }, 'ipc send failed'); };
    if (handle) this.process.send(message as object, handle as Parameters<ChildProcess['send']>[1], done);
    else this.process.send(message as object, done);
  }

  private async confirmReady(child: ChildProcess, message: ReadyMessage): Promise<boolean> {
    if (this.spec.probe) {
      this.probing = new AbortController();
      const ok = await this.spec.probe(message, this.probing.signal).catch(() => false);
      if (!ok || this.process !== child || this.state !== 'starting') return false;
    }
    this.ready = message;
    this.becameReady = true;
    this.everReady = true;
    this.setState('ready');
    return true;
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.retired || this.state === 'stopping' || this.state === 'stopped') {
      this.setState('stopped');
      return;
    }
    if (code === LISTEN_FAILED_EXIT_CODE && this.failFast && !this.everReady) {
      // It failed to bind while the system starts: a restart cannot fix that, so the start ends here.
      this.retired = true;
      this.setState('stopped');
      this.emit('fatal', this.fatalMessage ?? `${this.spec.name} could not open its listener`);
      return;
    }
    const plan = planRestart({ failures: this.failures, becameReady: this.becameReady, uptimeMs: Date.now() - this.startedAt }, this.backoff);
    this.failures = plan.failures;
    this.restarts++;
    const level = plan.crashLooping ? 'error' : 'warn';
    this.log[level]({ child: this.spec.name, code, signal, restartInMs: plan.delayMs, failures: plan.failures }, plan.crashLooping ? 'crash loop: restarting with backoff' : 'exited; restarting');
    this.setState(plan.crashLooping ? 'crash-loop' : 'backoff');
    this.restartTimer = setTimeout(() => this.start(), plan.delayMs);
  }

  private setState(state: ChildState): void {
    if (this.state === state) return;
    this.state = state;
    this.emit('change');
  }
}
