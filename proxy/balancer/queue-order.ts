/**
 * Adaptive LIFO (as in Facebook's "Fail at scale"): when more requests wait
 * than the servers can serve within the queue timeout (cap ÷ latency each, by
 * Little's law), the oldest will time out whatever the order; serving the
 * newest first then keeps a served request's wait near zero instead of near
 * the timeout, while those shed still get their 503 at the timeout, which
 * paces clients that resend at once. Below that, oldest first.
 */
import type { UpstreamConfig } from '../../lib/config/load.js';
import type { ServerState } from './server-state.js';

export function newestFirst(queue: UpstreamConfig['queue'], waiting: number, servers: readonly ServerState[]): boolean {
  if (queue.order === 'fifo' || waiting < 2) return false;
  let perMs = 0;
  for (const server of servers) {
    if (!server.up) continue;
    if (server.latencyEwmaMs <= 0) return false; // no latency known yet: no grounds to reorder
    perMs += server.cap / server.latencyEwmaMs;
  }
  return waiting > perMs * queue.timeout;
}
