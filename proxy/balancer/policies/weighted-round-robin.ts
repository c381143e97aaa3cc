/**
 * `weighted-round-robin`: nginx's smooth weighted round-robin. Each pick adds
 * every available server's weight to its running score, takes the highest, and
 * takes the total off the winner: weights 5,1,1 give a a b a c a a, spread out
 * rather than in bursts. Slow start lowers a returning server's weight.
 */
import type { Candidate, Policy } from './policy.js';

export class WeightedRoundRobin implements Policy {
  private readonly current = new Map<string, number>();

  pick<S extends Candidate>(servers: readonly S[]): S | undefined {
    let best: S | undefined;
    let bestScore = -Infinity;
    let total = 0;
    for (const server of servers) {
      if (!server.available) continue;
      const score = (this.current.get(server.url) ?? 0) + server.weight;
      this.current.set(server.url, score);
      total += server.weight;
      if (score > bestScore) [best, bestScore] = [server, score];
    }
    if (best) this.current.set(best.url, bestScore - total);
    if (this.current.size > servers.length) this.forgetRemoved(servers);
    return best;
  }

  /** Drops the scores of servers no longer in the upstream. */
  private forgetRemoved(servers: readonly Candidate[]): void {
    const present = new Set(servers.map((s) => s.url));
    for (const url of this.current.keys()) if (!present.has(url)) this.current.delete(url);
  }
}
