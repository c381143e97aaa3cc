/**
 * `p2c`: power of two choices (Mitzenmacher, "The Power of Two Choices in
 * Randomized Load Balancing", 2001), with a latency-aware cost as in Finagle's
 * and Linkerd's peak-EWMA balancers: of two random available servers, take the
 * one with the lower (in flight + 1) × latency EWMA / weight. Not the default:
 * sampling two servers can miss the idle one when calls are long and few
 * (Envoy issue #4481); least-outstanding scans them all.
 */
import type { Candidate, Policy, Random } from './policy.js';

export class PowerOfTwoChoices implements Policy {
  constructor(private readonly random: Random = Math.random) {}

  pick<S extends Candidate>(servers: readonly S[]): S | undefined {
    const available = servers.filter((s) => s.available);
    if (available.length <= 1) return available[0];
    const i = Math.floor(this.random() * available.length);
    let j = Math.floor(this.random() * (available.length - 1));
    if (j >= i) j++;
    const a = available[i]!;
    const b = available[j]!;
    return cost(a) <= cost(b) ? a : b;
  }
}

function cost(server: Candidate): number {
  return ((server.inflight + 1) * Math.max(server.latencyEwmaMs, 1)) / server.weight;
}
