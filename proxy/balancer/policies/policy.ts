/**
 * The one interface every load-balancing policy implements (Caddy's Selector,
 * Envoy's LoadBalancer). Policies only choose: the upstream does the bookkeeping
 * (in-flight counts, caps, health, slow start) and tells each server's
 * availability; a policy never writes server state.
 */

/** What a policy may read of a server. */
export interface Candidate {
  readonly url: string;
  /** Configured weight times the slow-start factor: > 0 for an available server. */
  readonly weight: number;
  /** Requests in flight to this server now. */
  readonly inflight: number;
  /** Exponentially weighted moving average of response-header latency, ms (0 before the first response). */
  readonly latencyEwmaMs: number;
  /** Healthy, not draining, and below its in-flight cap: the only servers a policy may return. */
  readonly available: boolean;
}

/** Per-request input a policy may use. */
export interface PickContext {
  /** The consistent-hashing key (header, cookie or client address); undefined when the request has none. */
  hashKey?: string;
}

export interface Policy {
  /**
   * Chooses an available server among `servers` (all servers of the upstream, in
   * config order, available or not), or undefined when none is available.
   * Pure apart from the policy's own rotation/random state: no I/O, no clock.
   */
  pick<S extends Candidate>(servers: readonly S[], ctx: PickContext): S | undefined;
}

/** Randomness source in [0, 1), injected so tests are deterministic. */
export type Random = () => number;
