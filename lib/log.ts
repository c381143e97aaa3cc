/** JSON-lines logging to stdout with pino: one line per event, cheap on the hot path. */
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/** A logger whose lines carry `component` (master, proxy, backend) and the pid. */
export function createLogger(component: string, level = process.env.PORTICO_LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { component, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}
