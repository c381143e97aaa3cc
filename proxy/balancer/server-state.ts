/**
 * One upstream server's state, owned by its upstream: in-flight count and cap,
 * health (the master's word for local backends, active checks, passive
 * ejection), back-pressure backoff and slow start. Policies read it through
 * the Candidate interface; only the upstream and the health checker write it.
 */
import type { HealthOptions } from './health-options.js';
import type { Candidate } from './policies/policy.js';

import type { LocalState } from '../../lib/ipc.js';

/** EWMA smoothing of response latency: weight of the newest sample. */
const EWMA_ALPHA = 0.3;
/** A server's first back-pressure backoff; doubles per consecutive 503, up to its Retry-After. */
const BACKPRESSURE_BASE_MS = 50;
/** Bounds of a stall after a give-back: it starts at one usual call (the latency average) and doubles per give-back in a row. */
const STALL_MIN_MS = 5;
const STALL_MAX_MS = 1000;
/**
 * Bound of a stall while a call of this proxy's own is still in flight there, whose end ends
 * the stall: only a safety net (a call that never reports its end), far above any usual call.
 */
const STALL_BEHIND_OWN_CALL_MAX_MS = 30_000;

/**
 * A check's problem as a client may read it: statuses, timeouts and "connection refused"
 * as they are; of an error with a message (TLS, DNS), only its kind or code.
 * @example publicProblem('ENOTFOUND: getaddrinfo ENOTFOUND db.internal') // "ENOTFOUND"
 */
export function publicProblem(problem: string): string {
  if (problem.startsWith('TLS error')) return 'TLS error';
  const code = /^([A-Z][A-Z0-9_]+): /.exec(problem);
  return code ? code[1]! : problem;
}

export class ServerState implements Candidate {
  inflight = 0;
  latencyEwmaMs = 0;
  /** For local backends: what the master says. Servers from the YAML are always 'ready' here. */
  localState: LocalState;
  /** Result of active health checks (after rise/fall). */
  healthy = true;
  /** Why the last active check failed ("404", "timeout after 1000 ms", "connection refused"), shown while unhealthy. */
  healthProblem: string | undefined;
  /** The error of the last failed attempt ("ECONNRESET", "HTTP_502"), shown while ejected. */
  lastFailure: string | undefined;
  /** The `max_inflight: auto` cap implied by the server's /readyz, when known. */
  reportedCap: number | undefined;
  /** The compute slots its /readyz reports (a Portico backend), when known. */
  reportedSlots: number | undefined;
  /**
   * Why it is treated as a plain HTTP server although listed where Portico backends are
   * ("GET /readyz answered 404"): its answer to the default check was not a Portico backend's.
   * Such a server is uncapped under `auto`, as in any other upstream (health.ts).
   */
  plainHttp: string | undefined;
  /** It has no readiness check to GET (the default path answered a client error): not actively checked until then (ms). */
  uncheckedUntil = 0;
  /**
   * This proxy's calls in flight there that are known to be dear (cost-model.ts), until
   * they answer. While there are any, it takes requests only into its free slots, not its
   * queue: a request queued behind a dear call would wait for all of it (issue 22).
   */
  dearInflight = 0;
  consecutiveFailures = 0;
  /** Ejections in a row without a success in between: each doubles the next one. */
  ejections = 0;
  ejectedUntil = 0;
  /** The length of the latest ejection. */
  private ejectMs = 0;
  backpressureUntil = 0;
  private backpressureStreak = 0;
  /** When the server last came (back) up: slow start ramps from here. */
  upSince = Number.NEGATIVE_INFINITY;
  /**
   * Until when it takes no request (issue 22): it handed a queued request back unstarted, as every
   * slot holds a call running far longer than usual. Ends when one of this proxy's calls there
   * ends (`endStall`), or at this time (see `stall`).
   */
  stalledUntil = 0;
  /** Give-backs in a row with no call of this proxy's ending there: each doubles the next stall. */
  private stallStreak = 0;
  /** Requests it handed back unstarted. */
  givenBack = 0;
  /** For local backends: the process id the master reports. */
  pid: number | undefined;
  /** For servers found by DNS: which `{dns, port}` entry found it ("dns:name:port"). */
  discoveredBy: string | undefined;

  constructor(
    readonly url: string,
    public configuredWeight: number,
    readonly local: boolean,
    private readonly options: HealthOptions,
    private readonly now: () => number,
    localState: LocalState = 'ready',
  ) {
    this.localState = localState;
  }

  /** Known up: ready (if local), healthy, not ejected, not pushing back. */
  get up(): boolean {
    const now = this.now();
    return this.localState === 'ready' && this.healthy && now >= this.ejectedUntil && now >= this.backpressureUntil;
  }

  /**
   * The in-flight cap now: max_inflight (or the cap its /readyz implies), reduced during slow
   * start. Infinity for a server that never said what it can take (`auto`, not a Portico
   * backend, or `plainHttp`): such a server is uncapped, and slow start ramps only its weight.
   */
  get cap(): number {
    const full = this.options.maxInflight === 'auto'
      ? Math.max(1, Math.floor((this.reportedCap ?? (this.plainHttp === undefined ? this.options.defaultCap : Number.POSITIVE_INFINITY)) / this.options.replicas))
      : this.options.maxInflight;
    if (full === Number.POSITIVE_INFINITY) return full;
    return Math.max(1, Math.floor(full * this.slowStartFactor()));
  }

  get weight(): number {
    return this.configuredWeight * Math.max(0.1, this.slowStartFactor());
  }

  get available(): boolean {
    return this.inflight < (this.dearInflight > 0 ? Math.min(this.cap, this.slots) : this.cap) && !this.stalled && this.up;
  }

  /** Its compute slots for this proxy (divided between replicas), Infinity when it never said. */
  get slots(): number {
    return this.reportedSlots === undefined ? Number.POSITIVE_INFINITY : Math.max(1, Math.floor(this.reportedSlots / this.options.replicas));
  }

  get stalled(): boolean {
    return this.stalledUntil !== 0 && this.now() < this.stalledUntil;
  }

  /**
   * It handed a request back (called before that request's slot is released): no request until
   * one of this proxy's calls there ends. While one is in flight, its end is what the stall waits
   * for: the call that holds the slot is this proxy's own, or the request it sent waits behind the
   * one that does. With none, the overdue call is another proxy's or client's, whose end this
   * proxy never sees: the stall lasts one usual call (the latency average), doubling per
   * give-back in a row. A stall timed like that behind this proxy's own dear call ran out
   * again and again while the call went on, each time costing a request a round trip there and back.
   */
  stall(): void {
    if (this.inflight > 1) {
      this.stalledUntil = this.now() + STALL_BEHIND_OWN_CALL_MAX_MS;
      return;
    }
    const ms = Math.min(STALL_MAX_MS, Math.max(STALL_MIN_MS, this.latencyEwmaMs) * 2 ** this.stallStreak);
    this.stallStreak++;
    this.stalledUntil = this.now() + ms;
  }

  /** A call of this proxy's there ended, whatever its outcome: a slot is free. */
  endStall(): void {
    this.stalledUntil = 0;
    this.stallStreak = 0;
  }

  /** A response came back (any status but the failures below): the server works. */
  recordSuccess(latencyMs: number): void {
    this.latencyEwmaMs = this.latencyEwmaMs === 0 ? latencyMs : this.latencyEwmaMs + EWMA_ALPHA * (latencyMs - this.latencyEwmaMs);
    this.consecutiveFailures = 0;
    this.ejections = 0;
    this.backpressureStreak = 0;
  }

  /**
   * A connect error, reset, timeout or 502/504. Returns the ejection length in ms when this
   * failure ejects the server. `mayEject` is the upstream's word: false when ejecting this
   * server would take out its last live one or more than max_ejected_percent; the count
   * then goes on past the threshold, so the next failure ejects once the upstream allows it.
   */
  recordFailure(code: string, mayEject: boolean): number | undefined {
    this.lastFailure = code;
    this.consecutiveFailures++;
    if (this.consecutiveFailures < this.options.failures || !mayEject) return undefined;
    const ms = Math.min(this.options.ejectMs * 2 ** this.ejections, this.options.maxEjectMs);
    this.ejections++;
    this.consecutiveFailures = 0;
    this.ejectedUntil = this.now() + ms;
    this.ejectMs = ms;
    // Nothing announces the end of an ejection: the slow start simply begins when it ends.
    this.upSince = this.ejectedUntil;
    return ms;
  }

  /** The server answered 503 + Retry-After: back-pressure, not failure. Skip it briefly, longer each time in a row. */
  recordBackpressure(retryAfterSeconds: number | undefined): void {
    const ceiling = (retryAfterSeconds ?? 1) * 1000;
    const ms = Math.min(BACKPRESSURE_BASE_MS * 2 ** this.backpressureStreak, ceiling);
    this.backpressureStreak++;
    this.backpressureUntil = this.now() + ms;
  }

  get ejected(): boolean {
    return this.now() < this.ejectedUntil;
  }

  /**
   * Why the server is not up, in words for /status and the log; undefined when it is up.
   * `healthPath`: what the active checks GET. `forClients`: the words of the 503 a client
   * gets, which names the server by its place in the upstream ("server 2") and leaves out
   * error texts, which may carry internal addresses and names (see publicProblem).
   */
  downReason(healthPath: string, forClients?: { place: number }): string | undefined {
    const name = forClients ? `server ${forClients.place}` : `server ${this.url}`;
    const publicText = forClients !== undefined;
    const now = this.now();
    if (this.localState !== 'ready') return `${name} is ${this.localState} (a local backend, as the supervisor reports)`;
    if (!this.healthy) {
      const problem = this.healthProblem ?? 'failed';
      return `${name} failed its health check GET ${healthPath}: ${publicText ? publicProblem(problem) : problem}`;
    }
    if (now < this.ejectedUntil) {
      return `${name} is ejected for ${this.ejectMs} ms after ${this.options.failures} failed attempts in a row (last: ${this.lastFailure ?? 'unknown'})`;
    }
    if (now < this.backpressureUntil) return `${name} answered 503 with Retry-After (it is full) and is skipped briefly`;
    return undefined;
  }

  /** Called when the server leaves rotation, so its return starts a slow start. */
  markDown(): void {
    this.upSince = Number.POSITIVE_INFINITY;
  }

  /** Called when the server (re)enters rotation. */
  markUp(): void {
    if (this.upSince === Number.POSITIVE_INFINITY) this.upSince = this.now();
  }

  private slowStartFactor(): number {
    const { slowStartMs } = this.options;
    if (slowStartMs <= 0 || this.upSince === Number.NEGATIVE_INFINITY) return 1;
    const elapsed = this.now() - this.upSince;
    return elapsed >= slowStartMs ? 1 : Math.max(0, elapsed / slowStartMs);
  }
}
