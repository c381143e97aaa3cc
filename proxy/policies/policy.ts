/**
 * The one interface every load-balancing policy implements. Policies only choose:
 * the upstream does the bookkeeping (in-flight counts, health) and hands a policy
 * only the servers that are available.
 */

/** What a policy may read of a server. */
export interface Candidate {
  readonly url: string;
  readonly weight: number;
  readonly inflight: number;
}

export interface Policy {
  /** Chooses one of `servers` (never empty), or undefined to refuse. Pure: no I/O. */
  pick<S extends Candidate>(servers: readonly S[]): S | undefined;
}
