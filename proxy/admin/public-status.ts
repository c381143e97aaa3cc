/**
 * The read-only public view of the pool that the demo page polls: health,
 * in-flight, caps, queue depth and shed counts per upstream, and nothing that
 * could help an attacker (no addresses, pids, paths or config). Turned off
 * with `public_status: ""`.
 */
import type { Upstream } from '../balancer/upstream.js';

export interface PublicStatus {
  upstreams: Array<{
    name: string;
    policy: string;
    queue: { depth: number; size: number };
    shed: number;
    /** `cap` null: the server is uncapped. */
    servers: Array<{ id: number; up: boolean; inflight: number; cap: number | null }>;
  }>;
}

export function publicStatus(upstreams: Iterable<Upstream>): PublicStatus {
  return {
    upstreams: [...upstreams].map((u) => {
      const stats = u.stats();
      return {
        name: stats.name,
        policy: stats.policy,
        queue: { depth: stats.queue.depth, size: stats.queue.size },
        shed: stats.shed.queue_full + stats.shed.queue_timeout + stats.shed.no_server,
        servers: stats.servers.map((s, i) => ({ id: i + 1, up: s.up, inflight: s.inflight, cap: s.cap })),
      };
    }),
  };
}
