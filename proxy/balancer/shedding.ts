/**
 * Why a request got no server, counted per reason, with the message its 503
 * says: the proxy answers 503 + Retry-After (or nothing, if the client left).
 */
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
