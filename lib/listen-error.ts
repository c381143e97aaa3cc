/**
 * A listener that cannot bind is a start-up error, not a crash: the process
 * exits with LISTEN_FAILED_EXIT_CODE and the master ends the start with the
 * address and the reason, instead of restarting it forever (nginx exits at
 * once with "bind() to 0.0.0.0:8080 failed (98: Address already in use)").
 */

/** EX_CONFIG from sysexits.h: a child that exits with it failed to start for a reason a restart cannot fix. */
export const LISTEN_FAILED_EXIT_CODE = 78;

const WHY: Record<string, string> = {
  EADDRINUSE: 'the address is already in use (EADDRINUSE); stop the process that listens there, or choose another port',
  EACCES: 'permission denied (EACCES); ports below 1024 need root or CAP_NET_BIND_SERVICE, or choose a port from 1024 up',
  EADDRNOTAVAIL: 'no interface of this machine has that address (EADDRNOTAVAIL)',
};

export class ListenError extends Error {
  constructor(readonly key: string, readonly address: string, readonly code: string, cause: unknown) {
    super(`cannot listen on ${address} (${key}): ${WHY[code] ?? `${code || 'error'}: ${(cause as Error).message}`}`, { cause });
    this.name = 'ListenError';
  }
}

/** Wraps a bind error of the listener `key` (e.g. "listen.http") on host:port. */
export function listenErrorOf(err: unknown, key: string, host: string | undefined, port: number): ListenError {
  const shownHost = host === undefined ? '0.0.0.0' : host.includes(':') ? `[${host}]` : host;
  return new ListenError(key, `${shownHost}:${port}`, (err as NodeJS.ErrnoException).code ?? '', err);
}

/**
 * Ends a process whose listener could not bind: one log line; under a master, a
 * `fatal` message (the master prints the line and stops the start); alone, the
 * line on stderr. Exits with LISTEN_FAILED_EXIT_CODE.
 */
export function exitOnListenError(err: ListenError, log: { error(fields: object, message: string): void }): void {
  log.error({ address: err.address, key: err.key, code: err.code }, err.message);
  const exit = () => process.exit(LISTEN_FAILED_EXIT_CODE);
  if (process.send && process.connected) {
    process.send({ type: 'fatal', message: err.message }, undefined, {}, exit);
    setTimeout(exit, 1000).unref(); // should the channel not deliver
  } else {
    process.stderr.write(`portico: ${err.message}\n`);
    exit();
  }
}
