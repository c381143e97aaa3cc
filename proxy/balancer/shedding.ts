/**
 * Why a request got no server, counted per reason, with the message its 503
 * says: the proxy answers 503 + Retry-After (or nothing, if the client left).
 */
import type { UpstreamConfig } from '../../lib/config/load.js';
import type { ServerState } from './server-state.js';

export type ShedReason = 'queue_full' | 'queue_timeout' | 'no_server' | 'client_gone';

export class ShedError extends Error {
  constructor(readonly reason: ShedReason, message: string) {
    super(message);
    this.name = 'ShedError';
  }
}

export class Shedding {
  readonly counts: Record<ShedReason, number> = { queue_full: 0, queue_timeout: 0, no_server: 0, client_gone: 0 };
  /** One error per reason, made once: under overload ~1000 sheds a second each paid for a stack trace (1.7 % of the proxy's CPU, profiled). */
  private errors: Partial<Record<ShedReason, ShedError>> = {};

  /** `message(reason)` words a shed; `no_server`'s says why each server is down, so it is remade when that changes. */
  constructor(private readonly message: (reason: ShedReason) => string) {}

  /** Counts a shed and returns its error. */
  shed(reason: ShedReason): ShedError {
    this.counts[reason]++;
    if (reason === 'no_server') {
      const message = this.message(reason);
      const made = this.errors.no_server;
      return made?.message === message ? made : (this.errors.no_server = new ShedError(reason, message));
    }
    return this.errors[reason] ??= new ShedError(reason, this.message(reason));
  }

  /** The config changed: messages name the queue's size and timeout. */
  reword(): void {
    this.errors = {};
  }
}

/** The 503's words for `reason` on the upstream `config` with `servers`. */
export function shedMessage(reason: ShedReason, config: Pick<UpstreamConfig, 'name' | 'queue' | 'health'>, servers: readonly ServerState[]): string {
  switch (reason) {
    case 'queue_full': return `upstream "${config.name}" is at capacity and its queue (${config.queue.size}) is full`;
    case 'queue_timeout': return `upstream "${config.name}" had no free server within the queue timeout (${config.queue.timeout} ms)`;
    case 'no_server': {
      const why = downReasons(servers, config.health.path);
      return `no server of upstream "${config.name}" is up${why ? `: ${why}` : ''}`;
    }
    case 'client_gone': return 'the client went away while the request was queued';
  }
}

/**
 * Why the servers are down, for the 503 a client gets (the first few; /status and the
 * log have them all, with addresses): servers are named by their place in the upstream.
 */
function downReasons(servers: readonly ServerState[], healthPath: string): string {
  const reasons: string[] = [];
  for (const [i, server] of servers.entries()) {
    const why = server.downReason(healthPath, { place: i + 1 });
    if (why) reasons.push(why);
  }
  if (reasons.length === 0) return servers.length === 0 ? 'it lists no servers' : '';
  const shown = reasons.slice(0, 3).join('; ');
  return reasons.length > 3 ? `${shown}; and ${reasons.length - 3} more (see /status)` : shown;
}
