/** Passive health's guard: how many of an upstream's servers failures may take out at once. */
import type { ServerState } from './server-state.js';

/**
 * Whether `server` may be ejected now: never the last one up (nginx never marks a
 * group's only server down: a lone origin that dropped a few connections must keep
 * serving), never past `maxEjectedPercent` at once (Envoy's outlier-detection guard;
 * as in Envoy, any percentage above 0 allows at least one, or 10 % of 5 servers would
 * allow none).
 * @example mayEject([a, b], a, 50) // true while b is up and nothing else is ejected
 */
export function mayEject(servers: readonly ServerState[], server: ServerState, maxEjectedPercent: number): boolean {
  let othersUp = 0;
  let ejected = 0;
  for (const s of servers) {
    if (s.ejected) ejected++;
    if (s !== server && s.up) othersUp++;
  }
  if (othersUp === 0) return false;
  const most = maxEjectedPercent === 0 ? 0 : Math.max(1, Math.floor((servers.length * maxEjectedPercent) / 100));
  return ejected + 1 <= most;
}
