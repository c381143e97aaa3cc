/** `round-robin`: each available server in turn (nginx's default). */
import type { Candidate, Policy } from './policy.js';

export class RoundRobin implements Policy {
  private next = 0;

  pick<S extends Candidate>(servers: readonly S[]): S | undefined {
    if (servers.length === 0) return undefined;
    const server = servers[this.next % servers.length];
    this.next = (this.next + 1) % Number.MAX_SAFE_INTEGER;
    return server;
  }
}
