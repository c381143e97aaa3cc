/** `round-robin`: each available server in turn (nginx's default). */
import type { Candidate, Policy } from './policy.js';

export class RoundRobin implements Policy {
  private next = 0;

  pick<S extends Candidate>(servers: readonly S[]): S | undefined {
    for (let i = 0; i < servers.length; i++) {
      const server = servers[(this.next + i) % servers.length]!;
      if (server.available) {
        this.next = (this.next + i + 1) % servers.length;
        return server;
      }
    }
    return undefined;
  }
}
