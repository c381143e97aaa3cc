/**
 * `hash`: consistent hashing with bounded loads (Mirrokni, Thorup and
 * Zadimoghaddam, "Consistent Hashing with Bounded Loads", 2016). Keys (a
 * header, a cookie or the client address) map to points on a ring of virtual
 * nodes; a key goes to the first server clockwise that is available and holds
 * no more than `balanceFactor` × the average load, so one hot key cannot bury
 * a server. Removing a server moves only the keys that were on it.
 * Requests without a key fall back to least-outstanding.
 */
import { LeastOutstanding } from './least-outstanding.js';
import type { Candidate, PickContext, Policy } from './policy.js';

const POINTS_PER_WEIGHT = 100;

interface Ring {
  signature: string;
  points: Uint32Array;
  /** owner[i]: index into the server list of points[i]. */
  owner: Uint16Array;
}

export class ConsistentHash implements Policy {
  private ring: Ring = { signature: '', points: new Uint32Array(), owner: new Uint16Array() };
  private readonly fallback = new LeastOutstanding();

  constructor(private readonly balanceFactor = 1.25) {}

  pick<S extends Candidate>(servers: readonly S[], ctx: PickContext): S | undefined {
    if (ctx.hashKey === undefined) return this.fallback.pick(servers);
    const available = servers.filter((s) => s.available);
    if (available.length === 0) return undefined;
    const ring = this.ringFor(servers);
    const load = available.reduce((sum, s) => sum + s.inflight, 0);
    const bound = Math.ceil((this.balanceFactor * (load + 1)) / available.length);
    let first: S | undefined;
    const start = lowerBound(ring.points, hash32(ctx.hashKey));
    for (let step = 0; step < ring.points.length; step++) {
      const server = servers[ring.owner[(start + step) % ring.points.length]!]!;
      if (!server.available) continue;
      if (server.inflight < bound) return server;
      first ??= server;
    }
    return first;
  }

  /** The ring over every server (available or not), rebuilt only when the servers or weights change. */
  private ringFor(servers: readonly Candidate[]): Ring {
    const signature = servers.map((s) => `${s.url}*${Math.round(s.weight)}`).join(' ');
    if (signature === this.ring.signature) return this.ring;
    const entries: Array<[number, number]> = [];
    servers.forEach((server, index) => {
      const points = POINTS_PER_WEIGHT * Math.max(1, Math.round(server.weight));
      for (let i = 0; i < points; i++) entries.push([hash32(`${server.url}#${i}`), index]);
    });
    entries.sort((a, b) => a[0] - b[0]);
    this.ring = { signature, points: Uint32Array.from(entries, (e) => e[0]), owner: Uint16Array.from(entries, (e) => e[1]) };
    return this.ring;
  }
}

/** FNV-1a over UTF-16 code units, finished with murmur3's fmix32 for a well-mixed 32-bit value. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The first index whose point is ≥ value (wrapping to 0). */
function lowerBound(points: Uint32Array, value: number): number {
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (points[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo === points.length ? 0 : lo;
}
