/**
 * Active health checks: GET each server's health path (default /readyz) on an
 * interval; `fall` failures in a row take it out, `rise` successes bring it back
 * (HAProxy's check/rise/fall). A /readyz body's `slots` and `queueSize` set the
 * server's cap for `max_inflight: auto` (see autoCap).
 *
 * The pool's upstream checks /readyz by default, because its servers are meant to be
 * Portico backends. A server listed there that is not one must still work as nginx would
 * serve it, so the answer to that default check decides, per server:
 * - a client error (404: no such path) means it has no readiness check: it is taken into
 *   rotation at once, uncapped, and looked at again only once a minute;
 * - a success without `slots` is a readiness check of its own: still checked, uncapped.
 * Local backends, and any path the user set, keep the plain rule: not 2xx is a failure.
 */
import { fetchWithTls } from '../forward/upstream-tls.js';
import type { ServerState, Upstream } from './upstream.js';
import { sameCheck } from './health-options.js';

export type CheckResult = 'success' | 'failure' | 'timeout';

export interface HealthEvents {
  onCheck?(upstream: string, server: string, result: CheckResult): void;
  /** The server changed state after rise/fall checks; `problem` says why the last check failed (when it went down). */
  onChange?(upstream: string, server: string, healthy: boolean, problem: string | undefined): void;
  /** The default check found the server is not a Portico backend (`why`); `checked`: whether checks go on. */
  onPlainHttp?(upstream: string, server: string, why: string, checked: boolean, cap: number): void;
}

/**
 * How long a server without a readiness check goes unchecked before one more look: a
 * Portico backend that a front server answered for (an ingress's 404) is found, and a
 * plain origin gets one request a minute, not one a second.
 */
const RECHECK_UNCHECKED_MS = 60_000;

/** Statuses that say "try again later", not "no such thing here": they stay failures. */
const TRANSIENT_CLIENT_ERRORS = new Set([408, 425, 429]);

interface Streak {
  successes: number;
  failures: number;
}

export class HealthChecker {
  private timer?: NodeJS.Timeout;
  private readonly streaks = new WeakMap<ServerState, Streak>();
  private stopped = false;
  /** A round is running; `again` asks it to run another at once when it ends (one chain of rounds, never two). */
  private running = false;
  private again = false;

  constructor(private readonly upstream: Upstream, private readonly events: HealthEvents = {}) {}

  start(): void {
    const { path } = this.upstream.config.health;
    if (!path || this.stopped) return;
    void this.round();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Checks every server now (servers were added) instead of at the next interval. */
  kick(): void {
    if (this.stopped || !this.upstream.config.health.path) return;
    void this.round();
  }

  /** Checks every server once, then schedules the next round. */
  async round(): Promise<void> {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    clearTimeout(this.timer);
    do {
      this.again = false;
      await Promise.all(this.upstream.servers.map((server) => (this.skips(server) ? undefined : this.check(server))));
    } while (this.again && !this.stopped);
    this.running = false;
    if (this.stopped || !this.upstream.config.health.path) return;
    this.timer = setTimeout(() => void this.round(), this.nextDelay());
    this.timer.unref();
  }

  /**
   * The interval, or a quarter of it (at most 250 ms) while a server is between
   * states, so a returning or newly added server is confirmed quickly
   * (HAProxy's fastinter).
   */
  private nextDelay(): number {
    const { interval } = this.upstream.config.health;
    const transitioning = this.upstream.servers.some((s) => {
      const streak = this.streaks.get(s);
      return streak !== undefined && (s.healthy ? streak.failures > 0 : streak.successes > 0);
    });
    return transitioning ? Math.min(interval, Math.max(50, Math.min(250, interval / 4))) : interval;
  }

  /**
   * A server found to have no readiness check by the default path, until its next look
   * (RECHECK_UNCHECKED_MS). A path the user sets checks it as any other.
   */
  private skips(server: ServerState): boolean {
    return this.upstream.config.health.readyzByDefault && Date.now() < server.uncheckedUntil;
  }

  private async check(server: ServerState): Promise<void> {
    const checked = this.upstream.config.health;
    const { path, timeout, rise, fall, readyzByDefault } = checked;
    // Never one that has reported slots: a Portico backend behind an ingress that 404s during a rollout stays checked.
    const mayBePlain = readyzByDefault && !server.local && server.reportedSlots === undefined;
    let result: CheckResult = 'failure';
    let problem: string | undefined;
    try {
      const res = await fetchWithTls(server.url + path, this.upstream.config.tls, { signal: AbortSignal.timeout(timeout), headers: { 'user-agent': 'portico-health-check' } });
      const text = await res.text();
      // A reload changed what is checked while this check was out: its answer no longer says anything.
      if (this.stopped || !sameCheck(this.upstream.config.health, checked)) return;
      if (res.ok) {
        result = 'success';
        server.uncheckedUntil = 0;
        const report = readyzReport(text);
        if (report && (report.cap !== server.reportedCap || report.slots !== server.reportedSlots)) {
          server.reportedCap = report.cap;
          server.reportedSlots = report.slots;
          server.plainHttp = undefined;
          this.upstream.dispatch();
        }
        if (!report && mayBePlain) {
          this.plainHttp(server, `its GET ${path} answers ${res.status} without the compute slots a Portico backend reports`, true);
        }
      } else if (mayBePlain && res.status >= 400 && res.status < 500 && !TRANSIENT_CLIENT_ERRORS.has(res.status)) {
        this.events.onCheck?.(this.upstream.config.name, server.url, 'success');
        this.takeUnchecked(server, `GET ${path} answered ${res.status}`);
        return;
      } else {
        problem = String(res.status);
      }
    } catch (err) {
      result = (err as Error).name === 'TimeoutError' ? 'timeout' : 'failure';
      problem = result === 'timeout' ? `no answer within ${timeout} ms` : checkErrorOf(err);
    }
    if (this.stopped) return;
    this.events.onCheck?.(this.upstream.config.name, server.url, result);
    const streak = this.streaks.get(server) ?? { successes: 0, failures: 0 };
    this.streaks.set(server, streak);
    if (result === 'success') {
      streak.successes++;
      streak.failures = 0;
      if (!server.healthy && streak.successes >= rise) this.setHealthy(server, true);
    } else {
      streak.failures++;
      streak.successes = 0;
      server.healthProblem = problem;
      if (server.healthy && streak.failures >= fall) this.setHealthy(server, false);
    }
  }

  /** Says it once per verdict: a server looked at again and found the same is not logged again. */
  private plainHttp(server: ServerState, why: string, checked: boolean): void {
    if (server.plainHttp === why) return;
    server.plainHttp = why;
    this.upstream.dispatch(); // uncapped now: waiters may go at once
    this.events.onPlainHttp?.(this.upstream.config.name, server.url, why, checked, server.cap);
  }

  /** A server without a readiness check: in rotation now, as in an upstream without checks. */
  private takeUnchecked(server: ServerState, why: string): void {
    server.uncheckedUntil = Date.now() + RECHECK_UNCHECKED_MS;
    this.streaks.delete(server);
    server.healthProblem = undefined;
    if (!server.healthy) {
      server.healthy = true;
      server.markUp();
      this.upstream.dispatch(); // even when the verdict is the one of before, and plainHttp says nothing
    }
    this.plainHttp(server, why, false);
  }

  private setHealthy(server: ServerState, healthy: boolean): void {
    server.healthy = healthy;
    if (healthy) {
      server.markUp();
      this.upstream.dispatch();
    } else {
      server.markDown();
      this.upstream.dispatch(); // queued requests get 503 now if nothing else is up
    }
    this.events.onChange?.(this.upstream.config.name, server.url, healthy, healthy ? undefined : server.healthProblem);
  }
}

/** A failed check's error in words: "connection refused", "TLS: self-signed certificate", "ENOTFOUND: ...". */
export function checkErrorOf(err: unknown): string {
  // fetch wraps the socket's error: TypeError("fetch failed", { cause }).
  const cause = ((err as { cause?: unknown }).cause ?? err) as Error & { code?: string };
  const code = cause.code ?? '';
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return 'connection closed before an answer';
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return 'connect timed out';
  if (/CERT|TLS|SSL|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME/.test(code)) return `TLS error: ${cause.message}`;
  return code ? `${code}: ${cause.message}` : cause.message;
}

/** The compute slots a /readyz JSON body reports, and the `max_inflight: auto` cap they imply; undefined when it reports none. */
export function readyzReport(body: string): { slots: number; cap: number } | undefined {
  try {
    const { slots, queueSize } = JSON.parse(body) as { slots?: unknown; queueSize?: unknown };
    if (typeof slots !== 'number' || !Number.isInteger(slots) || slots < 1) return undefined;
    return { slots, cap: autoCap(slots, typeof queueSize === 'number' ? queueSize : 0) };
  } catch {
    return undefined;
  }
}

/**
 * `max_inflight: auto`: one request per compute slot, plus up to two more that the
 * backend holds queued, so the next call is already there when a slot frees instead
 * of a proxy round trip later (measured: 0.88 → 0.93 of the machine's limit at
 * capacity for the first, and a lower p50 on mixed costs for the second; docs/decisions.md).
 * The second stops where two proxies' caps would overfill the backend's slots and queue:
 * during a restart the old proxy and the new one each send up to the cap. The first is
 * kept whenever the backend has a queue at all, as before the second existed.
 */
export function autoCap(slots: number, queueSize: number): number {
  if (queueSize === 0) return slots;
  const roomForTwoProxies = Math.floor((queueSize - slots) / 2);
  return slots + Math.max(1, Math.min(2, roomForTwoProxies));
}
