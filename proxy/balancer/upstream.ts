/**
 * An upstream group: the bookkeeping of its servers and its central queue
 * (HAProxy's maxconn + maxqueue + timeout queue). A request takes a server only
 * while that server is below its in-flight cap; otherwise it waits in the queue
 * and is dispatched the moment a slot frees, or is shed at once with 503 when
 * the queue is full, the wait runs past the queue timeout, or no server is up.
 * Oldest first, each waiter's arrival offset by its target's learnt cost
 * (`queue.priority: cost`, cost-model.ts), except under overload
 * (`queue.order: adaptive`): see `newestFirst`.
 * The policy only chooses among available servers (STYLE.md, undici's pool-base).
 */
import type { UpstreamConfig } from '../../lib/config/load.js';
import type { LocalServer, LocalState } from '../../lib/ipc.js';
import type { LeftSignal } from '../../lib/client-left.js';
import { healthOptions, sameCheck, type HealthOptions } from './health-options.js';
import { createPolicy } from './policies/index.js';
import type { Candidate, PickContext, Policy } from './policies/policy.js';
import { RetryBudget } from './retry-budget.js';
import { ServerList } from './server-list.js';
import type { ServerState } from './server-state.js';
import { mayEject } from './passive-health.js';
import { CostModel } from './cost-model.js';
import { newestFirst } from './queue-order.js';
import { ShedError, type ShedReason, shedMessage, Shedding } from './shedding.js';

export { ServerState } from './server-state.js';
export type { LocalServer, LocalState } from '../../lib/ipc.js';
export { ShedError, type ShedReason } from './shedding.js';

/** The tag of the servers one `{dns, port}` entry finds. */
export function dnsKey(entry: { name: string; port: number }): string {
  return `dns:${entry.name}:${entry.port}`;
}

interface Waiter {
  ctx: AcquireContext;
  exclude: ReadonlySet<ServerState>;
  enqueuedAt: number;
  /** Added to its arrival for its place in the queue: the predicted cost (ms), 0 by arrival alone, -Infinity when handed back. */
  offsetMs: number;
  grant(server: ServerState): void;
  refuse(err: ShedError): void;
}

/** What the policy reads, and what the upstream writes back for the request's trace. */
export interface AcquireContext extends PickContext {
  /** How long the request waited in the queue, when it did (set when it was granted a server or shed). */
  queuedMs?: number;
  /** What the request's cost is learnt and predicted by (method and URL): see cost-model.ts. */
  costKey?: string;
  /** The server its attempt holds as a known dear call (ServerState.dearInflight), until the attempt ends. */
  dearOn?: ServerState;
}

/**
 * How one attempt on a server ended, as the forwarder saw it: response headers
 * (any status), or an error, with whether the request may have reached the server.
 */
export type AttemptResult =
  | { kind: 'response'; status: number; retryAfter: string | undefined; headersMs: number }
  | { kind: 'error'; code: string; sent: boolean; timedOut: boolean };

/** Why an attempt counted as a failure: the `reason` label of portico_upstream_errors_total. */
export type FailureReason = 'connect' | 'reset' | 'timeout' | 'status';

export interface UpstreamStats {
  name: string;
  policy: string;
  queue: {
    depth: number; size: number; timeoutMs: number; order: 'adaptive' | 'fifo'; newestFirst: boolean;
    /** How waiters are ranked, and how many targets' costs are learnt for it. */
    priority: 'cost' | 'arrival'; costsLearnt: number;
  };
  shed: Record<ShedReason, number>;
  /** Requests its servers handed back unstarted and the proxy sent again (issue 22). */
  givenBack: number;
  servers: Array<{
    url: string; local: boolean; up: boolean; state: LocalState; healthy: boolean; inflight: number;
    /** null: uncapped (a server that never said what it can take, under `max_inflight: auto`). */
    cap: number | null;
    ejectedUntil: number | null;
    /** Failed attempts in a row (passive health). */
    failures: number;
    /** Why the server is not up (failed check with its reason, ejection, back-pressure), when it is not. */
    down?: string;
    /** Requests it handed back unstarted; `stalled`: it did so lately, and takes no request until a call ends or its stall runs out. */
    givenBack: number;
    stalled: boolean;
    /** This proxy's calls in flight there known to be dear: while any, it takes requests only into free slots. */
    dear: number;
    /** Why a server listed with Portico backends is treated as a plain HTTP server (uncapped; checked once a minute if it has no /readyz), when it is. */
    plainHttp?: string;
  }>;
}

/** What the upstream tells the proxy's metrics and log; every one optional. */
export interface UpstreamEvents {
  /** A request waited `ms` in the queue before it got a server. */
  onQueueWait?(ms: number): void;
  /** A server sent response headers after `ms`. */
  onResponse?(server: ServerState, ms: number): void;
  /** An attempt failed (connect error, reset, timeout, 502/504). */
  onFailure?(server: ServerState, reason: FailureReason): void;
  /** That failure ejected the server for `ms`. */
  onEjected?(server: ServerState, ms: number): void;
  /** The server handed a queued request back unstarted; it is sent again at once. */
  onGivenBack?(server: ServerState): void;
  /** The server answered 503 + Retry-After: back-pressure, never a failure. */
  onBackpressure?(server: ServerState): void;
}

export interface UpstreamOptions {
  /** Local servers come from the master (setLocalServers), not from the config. */
  supervised?: boolean;
  /** The cap per server for `max_inflight: auto` until its /readyz says otherwise; Infinity (the default) leaves servers that report nothing uncapped. */
  defaultCap?: number;
  /** Proxies sharing these servers (`replicas`): `auto` caps are divided between them. */
  replicas?: number;
  events?: UpstreamEvents;
  /** The clock and randomness, injected by tests. */
  now?: () => number;
  random?: () => number;
}

export class Upstream {
  retryBudget: RetryBudget;
  private policy: Policy;
  private readonly options: HealthOptions;
  private readonly list: ServerList;
  private readonly queue: Waiter[] = [];
  /** What each target costs, learnt from capped servers' answers (only where a queue can form). */
  private readonly costs = new CostModel();
  /** Requests handed back unstarted by a server and sent again. */
  private givenBack = 0;
  private readonly shedding = new Shedding((reason) => shedMessage(reason, this.config, this.servers));
  private tick?: NodeJS.Timeout;
  private readonly supervised: boolean;
  private readonly replicas: number;
  private readonly events: UpstreamEvents;
  private readonly now: () => number;
  private readonly random: () => number;

  /** @example new Upstream(config, { supervised: true, defaultCap: 2, events: { onQueueWait } }) */
  constructor(public config: UpstreamConfig, options: UpstreamOptions = {}) {
    this.supervised = options.supervised ?? false;
    this.replicas = options.replicas ?? 1;
    this.events = options.events ?? {};
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.options = healthOptions(config, options.defaultCap ?? Number.POSITIVE_INFINITY, this.replicas);
    this.list = new ServerList(this.options, this.now);
    this.list.setConfigured(this.configuredServers(config), false);
    this.policy = createPolicy(config.policy, { balanceFactor: config.hash.balance_factor }, this.random);
    this.retryBudget = new RetryBudget(config.retries.budget, config.retries.min_per_second, this.now);
  }

  /** Every server: configured, discovered by DNS, local. */
  get servers(): ServerState[] {
    return this.list.all;
  }

  /**
   * Takes a server for one attempt: at once if one is available, else after
   * waiting in the queue. Pair with `release`.
   * @throws ShedError (queue full, queue timeout, no server up, client gone).
   * @example const server = await upstream.acquire({}, signal); try { ... } finally { upstream.release(server); }
   */
  acquire(ctx: AcquireContext, signal?: LeftSignal, exclude: ReadonlySet<ServerState> = new Set(), givenBack = false): Promise<ServerState> {
    if (signal?.aborted) return Promise.reject(this.shed('client_gone'));
    if (!this.anyUp(exclude)) return Promise.reject(this.shed('no_server'));
    if (this.queue.length === 0 || givenBack) {
      const server = this.pick(ctx, exclude);
      if (server) return Promise.resolve(this.take(server, ctx));
    }
    // A request handed back has waited already: it goes first, and a full queue does not refuse it.
    if (this.queue.length >= this.config.queue.size && !givenBack) return Promise.reject(this.shed('queue_full'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => remove(this.shed('queue_timeout')), this.config.queue.timeout);
      const onAbort = () => remove(this.shed('client_gone'));
      const done = () => {
        clearTimeout(timer);
        signal?.removeListener('abort', onAbort);
      };
      const waiter: Waiter = {
        ctx, exclude, enqueuedAt: this.now(),
        offsetMs: givenBack ? Number.NEGATIVE_INFINITY : this.config.queue.priority === 'cost' ? this.costs.predict(ctx.costKey) : 0,
        grant: (server) => {
          done();
          ctx.queuedMs = this.now() - waiter.enqueuedAt;
          this.events.onQueueWait?.(ctx.queuedMs);
          resolve(server);
        },
        refuse: (err) => { done(); ctx.queuedMs = this.now() - waiter.enqueuedAt; reject(err); },
      };
      const remove = (err: ShedError) => {
        const i = this.queue.indexOf(waiter);
        if (i >= 0) this.queue.splice(i, 1);
        waiter.refuse(err);
      };
      signal?.once('abort', onAbort);
      if (givenBack) this.queue.unshift(waiter);
      else this.queue.push(waiter);
      this.armTick();
    });
  }

  /**
   * A server for a WebSocket (or other Upgrade): any server that is up, chosen by
   * the policy, ignoring the in-flight cap, which is for requests that compute.
   */
  pickForUpgrade(ctx: PickContext): ServerState | undefined {
    return this.pickAmong(ctx, (server) => server.up);
  }

  /**
   * Records how an attempt on `server` ended; the one call the request path
   * makes after each attempt (before `release`). A 502 or 504 from the server,
   * a connect error, a reset or a timeout is a failure: after
   * `health.failures` in a row the server is ejected, unless that would take
   * out the last server up or more than `health.max_ejected_percent`. A 503
   * with Retry-After is back-pressure: the server is skipped briefly. Anything
   * else is a success and feeds the latency average.
   */
  recordAttempt(server: ServerState, result: AttemptResult, ctx?: AcquireContext): void {
    server.endStall();
    // The dear call answered: its server's queue opens now, not when its body has been read.
    if (this.endDear(server, ctx)) this.dispatch();
    if (result.kind === 'response') {
      // Costs matter only where requests can wait for a server; uncapped servers never make them.
      if (result.status < 500 && Number.isFinite(server.cap)) this.costs.observe(ctx?.costKey, result.headersMs);
      this.events.onResponse?.(server, result.headersMs);
      if (result.status === 502 || result.status === 504) return this.recordFailure(server, `HTTP_${result.status}`, 'status');
      if (result.status === 503 && result.retryAfter !== undefined) {
        const seconds = Number(result.retryAfter);
        server.recordBackpressure(Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined);
        return this.events.onBackpressure?.(server);
      }
      return server.recordSuccess(result.headersMs);
    }
    this.recordFailure(server, result.code, result.timedOut ? 'timeout' : result.sent ? 'reset' : 'connect');
  }

  private recordFailure(server: ServerState, code: string, reason: FailureReason): void {
    this.events.onFailure?.(server, reason);
    const ejectedMs = server.recordFailure(code, mayEject(this.servers, server, this.config.health.max_ejected_percent));
    if (ejectedMs !== undefined) this.events.onEjected?.(server, ejectedMs);
    this.dispatch();
  }

  /**
   * `server` handed the request back unstarted (its 503 with Portico-Not-Started): not a
   * failure, no back-pressure. Every slot there holds an overdue call, so it takes no
   * request until one of this proxy's calls there ends or about one usual call has passed
   * (ServerState.stall), whatever its cap: sent back there at once, the request would
   * only be handed back again.
   */
  giveBack(server: ServerState, ctx?: AcquireContext): void {
    server.stall();
    server.givenBack++;
    this.givenBack++;
    this.events.onGivenBack?.(server);
    this.release(server, ctx);
  }

  /** Gives the slot back and hands freed capacity to the queue, in its order. */
  release(server: ServerState, ctx?: AcquireContext): void {
    server.inflight--;
    this.endDear(server, ctx);
    this.dispatch();
  }

  /**
   * Serves queued requests in their order (see `nextWaiter`) while servers are
   * available; refuses at once those for which no server is up (they would only
   * wait out their timeout). A retry that may not go back to the free servers it
   * already tried is passed over, not allowed to hold up the requests behind it.
   */
  dispatch(): void {
    if (this.queue.length === 0) return;
    const newest = this.newestFirst();
    let passedOver: Set<Waiter> | undefined;
    for (;;) {
      const i = this.nextWaiter(newest, passedOver);
      if (i < 0) return;
      const waiter = this.queue[i]!;
      if (!this.anyUp(waiter.exclude)) {
        this.queue.splice(i, 1);
        waiter.refuse(this.shed('no_server'));
        continue;
      }
      const server = this.pick(waiter.ctx, waiter.exclude);
      if (!server) {
        if (waiter.exclude.size === 0) return; // nothing is free for anyone
        (passedOver ??= new Set()).add(waiter);
        continue;
      }
      this.queue.splice(i, 1);
      waiter.grant(this.take(server, waiter.ctx));
    }
  }

  /**
   * The waiter to serve next, by index (-1: none left but those passed over): the
   * smallest arrival plus predicted cost, or under overload (newest first) the
   * newest, each arrival counted its predicted cost earlier. A request handed back
   * goes first either way. The
   * queue stays in arrival order; a scan per grant costs less than keeping it sorted
   * two ways, at the queue sizes a proxy holds.
   */
  private nextWaiter(newest: boolean, passedOver: ReadonlySet<Waiter> | undefined): number {
    let best = -1;
    let bestRank = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.queue.length; i++) {
      const waiter = this.queue[i]!;
      if (passedOver?.has(waiter)) continue;
      const rank = newest ? waiter.offsetMs - waiter.enqueuedAt : waiter.enqueuedAt + waiter.offsetMs;
      // Ties: the earliest in the queue oldest first, the latest newest first.
      if (rank < bestRank || (newest && rank === bestRank)) {
        best = i;
        bestRank = rank;
      }
    }
    return best;
  }

  /** Whether the queue serves the newest first now (adaptive LIFO under overload: queue-order.ts). */
  newestFirst(): boolean {
    return newestFirst(this.config.queue, this.queue.length, this.servers);
  }

  /**
   * Applies a reloaded config in place: servers that stay keep their state and
   * in-flight requests; new ones wait for a passing health check (when checks
   * are on) before they get traffic; removed ones get no new requests and
   * finish the ones they have. Policy, caps, queue and retry settings apply to
   * the next request. Returns the servers added.
   */
  reconfigure(config: UpstreamConfig, defaultCap: number): ServerState[] {
    const previous = this.config;
    this.config = config;
    if (!config.health.path) {
      // Active checks turned off: no check will ever bring a server back, so none stays out for one.
      for (const server of this.servers) {
        server.healthy = true;
        server.healthProblem = undefined;
      }
    }
    if (!sameCheck(config.health, previous.health)) {
      // What the old check found (no /readyz, not a Portico backend) says nothing about the new one.
      for (const server of this.servers) {
        server.uncheckedUntil = 0;
        server.plainHttp = undefined;
      }
    }
    this.shedding.reword();
    Object.assign(this.options, healthOptions(config, defaultCap, this.replicas));
    if (config.policy !== previous.policy || config.hash.balance_factor !== previous.hash.balance_factor) {
      this.policy = createPolicy(config.policy, { balanceFactor: config.hash.balance_factor }, this.random);
    }
    if (config.retries.budget !== previous.retries.budget || config.retries.min_per_second !== previous.retries.min_per_second) {
      this.retryBudget = new RetryBudget(config.retries.budget, config.retries.min_per_second, this.now);
    }
    const added = this.list.setConfigured(this.configuredServers(config), config.health.path !== '');
    this.list.keepDiscovered(new Set(config.dns.map(dnsKey)));
    this.dispatch();
    return added;
  }

  /**
   * Replaces the servers a DNS entry found with its latest answer: addresses
   * that stay keep their state, new ones wait for a passing health check (when
   * checks are on), gone ones drain. Returns whether any server was added.
   */
  setDiscoveredServers(key: string, urls: string[], weight: number): boolean {
    const added = this.list.setDiscovered(key, urls, weight, this.config.health.path !== '');
    this.dispatch();
    return added.length > 0;
  }

  /** Replaces the local backends with the master's list, keeping the state of those that stay. */
  setLocalServers(list: LocalServer[]): void {
    this.list.setLocal(list);
    this.dispatch();
  }

  queueDepth(): number {
    return this.queue.length;
  }

  /** Stops the queue's timer and refuses whoever still waits (the upstream is being replaced or closed). */
  close(): void {
    clearTimeout(this.tick);
    for (const waiter of this.queue.splice(0)) waiter.refuse(this.shedding.shed('no_server'));
  }

  stats(): UpstreamStats {
    const now = this.now();
    return {
      name: this.config.name,
      policy: this.config.policy,
      queue: {
        depth: this.queue.length, size: this.config.queue.size, timeoutMs: this.config.queue.timeout, order: this.config.queue.order, newestFirst: this.newestFirst(),
        priority: this.config.queue.priority, costsLearnt: this.costs.size,
      },
      shed: { ...this.shedding.counts },
      givenBack: this.givenBack,
      servers: this.servers.map((s) => ({
        url: s.url, local: s.local, up: s.up, state: s.localState, healthy: s.healthy,
        inflight: s.inflight, cap: Number.isFinite(s.cap) ? s.cap : null, ejectedUntil: s.ejectedUntil > now ? s.ejectedUntil : null,
        failures: s.consecutiveFailures, down: s.downReason(this.config.health.path), givenBack: s.givenBack, stalled: s.stalled, dear: s.dearInflight,
        ...(s.plainHttp !== undefined && { plainHttp: s.plainHttp }),
      })),
    };
  }

  private pick(ctx: PickContext, exclude: ReadonlySet<ServerState>): ServerState | undefined {
    if (exclude.size === 0) return this.policy.pick(this.servers, ctx);
    // A retry: the servers already tried are shown as unavailable.
    return this.pickAmong(ctx, (server) => server.available && !exclude.has(server));
  }

  /** The policy's pick among views of the servers whose availability `available` decides. */
  private pickAmong(ctx: PickContext, available: (server: ServerState) => boolean): ServerState | undefined {
    const views = this.servers.map((server) => ({ server, url: server.url, weight: server.weight, inflight: server.inflight,
      latencyEwmaMs: server.latencyEwmaMs, available: available(server) } satisfies Candidate & { server: ServerState }));
    return this.policy.pick(views, ctx)?.server;
  }

  /** The config's servers this upstream holds itself (under a master, local ones come from it). */
  private configuredServers(config: UpstreamConfig): UpstreamConfig['servers'] {
    return config.servers.filter((s) => !(s.local && this.supervised));
  }

  /**
   * Counts the attempt on `server`. A call known to be dear (cost-model.ts) marks the
   * server, which then takes requests only into free slots until the call ends: what
   * would queue behind it waits here instead, where the next free server can take it.
   */
  private take(server: ServerState, ctx: AcquireContext): ServerState {
    server.inflight++;
    // Only a server whose slots are known can be closed down to them (a Portico backend's /readyz).
    if (this.config.queue.priority === 'cost' && Number.isFinite(server.slots) && this.costs.isDear(ctx.costKey)) {
      server.dearInflight++;
      ctx.dearOn = server;
    }
    return server;
  }

  /**
   * The attempt of `ctx` on `server` ended (its headers came, it failed, or it was released):
   * it no longer holds the server as dear. Returns whether it did until now.
   */
  private endDear(server: ServerState, ctx: AcquireContext | undefined): boolean {
    if (ctx?.dearOn !== server) return false;
    server.dearInflight--;
    ctx.dearOn = undefined;
    return true;
  }

  private anyUp(exclude: ReadonlySet<ServerState>): boolean {
    return this.servers.some((s) => s.up && !exclude.has(s));
  }

  private shed(reason: ShedReason): ShedError {
    return this.shedding.shed(reason);
  }

  /** While requests wait, re-check now and then: ejections end and slow starts ramp with time, not with events. */
  private armTick(): void {
    if (this.tick) return;
    this.tick = setTimeout(() => {
      this.tick = undefined;
      this.dispatch();
      if (this.queue.length > 0) this.armTick();
    }, 20);
    this.tick.unref();
  }
}
