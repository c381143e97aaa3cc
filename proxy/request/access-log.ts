/**
 * The access log: one JSON line per exchange, in the shape of the proxy's pino
 * lines (level, time, component, pid, the fields, msg "request"), written into
 * the logger's own destination so that lines never interleave. Built by hand:
 * pino's generic serializer (a walk over the object, its string escaper, its
 * timestamp) showed 2.7 % of the proxy's CPU in a pass-through profile; this
 * line takes 0.35 µs (a loop of a million on this machine).
 */
import { pino, type Logger } from 'pino';
import { isoTime } from '../../lib/log.js';

export interface AccessFields {
  id: string;
  client: string;
  method: string | undefined;
  path: string;
  status: number;
  /** NaN when the connection is gone (an HTTP/2 stream whose session closed): written as null, as pino did. */
  bytes: number;
  duration: number;
  route: string;
  upstream: string;
  server: string;
  cache: string | undefined;
  completed: boolean;
}

export type AccessLog = (fields: AccessFields) => void;

/** Writes through `log`'s destination, at its `info` level (off when the level is above it). */
export function createAccessLog(log: Logger): AccessLog {
  const internals = log as unknown as Record<symbol, unknown>;
  const stream = internals[pino.symbols.streamSym] as { write(line: string): unknown };
  // The logger's bindings as pino writes them (`,"component":"proxy","pid":…`); log.bindings() leaves out the pid.
  const bindings = internals[pino.symbols.chindingsSym] as string;
  return (f) => {
    if (!log.isLevelEnabled('info')) return;
    stream.write(`{"level":"info"${isoTime()}${bindings},"id":${str(f.id)},"client":${str(f.client)},"method":${str(f.method ?? '')},"path":${str(f.path)},"status":${f.status},"bytes":${Number.isFinite(f.bytes) ? f.bytes : null},"duration":${f.duration},"route":${str(f.route)}${
      f.upstream ? `,"upstream":${str(f.upstream)}` : ''}${f.server ? `,"server":${str(f.server)}` : ''}${f.cache ? `,"cache":${str(f.cache)}` : ''},"completed":${f.completed},"msg":"request"}\n`);
  };
}

/** A JSON string: most values need no escaping, and the test is cheaper than JSON.stringify's copy. */
function str(value: string): string {
  return SAFE.test(value) ? `"${value}"` : JSON.stringify(value);
}

const SAFE = /^[^"\\\u0000-\u001f\u007f-\uffff]*$/;
