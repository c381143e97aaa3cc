/**
 * The access log: one JSON line per exchange, in the shape of the proxy's pino
 * lines (level, time, component, pid, the fields, msg "request"), with the
 * fields of nginx's combined format and the upstream's timings. Written into
 * the logger's own destination (stdout, so that lines never interleave) or into
 * `access_log.file`. Built by hand: pino's generic serializer (a walk over the
 * object, its string escaper, its timestamp) showed 2.7 % of the proxy's CPU in
 * a pass-through profile.
 *
 * Lines are made BATCH at a time, not one per response. A line takes about
 * 2 µs in a loop of a million, yet cost a cache hit about 7 µs of user time
 * when made between responses (measured from /proc): made together, their code
 * and data stay in the caches. Batched, a cache hit with the log on cost
 * 0.92 × the CPU it cost with a line per response (docs/decisions.md, issue 20).
 * An exchange's fields, values only and stamped with their time, wait at most
 * FLUSH_MS to become a line; `flush()` makes them at once before a reopen, a
 * change of file and at exit.
 */
import { pino, type Logger } from 'pino';
import { FLUSH_MS } from '../../lib/line-buffer.js';
import { isoTime, type LineDestination } from '../../lib/log.js';

export interface AccessFields {
  id: string;
  client: string;
  method: string | undefined;
  path: string;
  /** "HTTP/1.1", "HTTP/2.0". */
  protocol: string;
  host: string | undefined;
  status: number;
  /** The response's bytes: on the wire for HTTP/1.x (nginx's $bytes_sent), the body's for HTTP/2 ($body_bytes_sent). */
  bytes: number;
  /** The request line, headers and body as received (nginx's $request_length); NaN when unknown. */
  requestLength: number;
  /** Seconds (written to the microsecond, as are the upstream times). */
  duration: number;
  route: string;
  upstream: string;
  server: string;
  /** Every server tried, in order, comma-separated (nginx's $upstream_addr). */
  upstreamAddr: string;
  /** Seconds, of the attempt that answered; NaN when none did (nginx's $upstream_connect_time, _header_time, _response_time). */
  upstreamConnectTime: number;
  upstreamHeaderTime: number;
  upstreamResponseTime: number;
  cache: string | undefined;
  userAgent: string | undefined;
  referer: string | undefined;
  tlsVersion: string | undefined;
  tlsCipher: string | undefined;
  /** The W3C trace context of the exchange, when tracing is on or the client sent one. */
  traceId: string | undefined;
  spanId: string | undefined;
  completed: boolean;
}

export interface AccessLog {
  /** Takes the exchange's line: made with the next batch. */
  (fields: AccessFields): void;
  /** Makes and writes every waiting line now. */
  flush(): void;
}

/**
 * Lines made together (FLUSH_MS bounds the wait when fewer come): at 20,000 requests a second,
 * 50 ms of them. Per cache hit, paired: 64 cost 1.03 × the CPU of 256, and 1024 0.94 × it.
 */
export const BATCH = 1024;

/** Flushed at exit ahead of the destinations' own exit writes (prepended), so that no line is left behind. */
const atExit = new Set<() => void>();

/**
 * Writes through `file()` when it gives a file, else through `log`'s destination at its
 * `info` level (off when the level is above it).
 */
export function createAccessLog(log: Logger, file: () => LineDestination | undefined = () => undefined): AccessLog {
  const internals = log as unknown as Record<symbol, unknown>;
  const stream = internals[pino.symbols.streamSym] as LineDestination;
  // The logger's bindings as pino writes them (`,"component":"proxy","pid":…`); log.bindings() leaves out the pid.
  const bindings = internals[pino.symbols.chindingsSym] as string;
  // The level is the config's, fixed for the process: asked once, not per line.
  const toStdout = log.isLevelEnabled('info');
  const waiting: AccessFields[] = [];
  /** Each waiting line's `,"time":…` field, stamped when its exchange ended. */
  const times: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    const target = file() ?? (toStdout ? stream : undefined);
    if (target) for (let i = 0; i < waiting.length; i++) target.write(lineOf(waiting[i]!, times[i]!, bindings));
    waiting.length = 0;
    times.length = 0;
  };
  if (atExit.size === 0) process.prependListener('exit', () => { for (const f of atExit) f(); });
  atExit.add(flush);
  const accessLog = (f: AccessFields) => {
    if (!toStdout && file() === undefined) return;
    times.push(isoTime());
    if (waiting.push(f) >= BATCH) return flush();
    timer ??= setTimeout(flush, FLUSH_MS).unref();
  };
  return Object.assign(accessLog, { flush });
}

function lineOf(f: AccessFields, time: string, bindings: string): string {
  const server = f.server ? str(f.server) : '';
  return `{"level":"info"${time}${bindings},"id":${str(f.id)},"client":${str(f.client)},"method":${str(f.method ?? '')},"path":${str(f.path)},"protocol":"${f.protocol}"${
    f.host ? `,"host":${str(f.host)}` : ''},"status":${f.status},"bytes":${num(f.bytes)},"request_length":${num(f.requestLength)},"duration":${seconds(f.duration)},"route":${str(f.route)}${
    f.upstream ? `,"upstream":${str(f.upstream)}` : ''}${server ? `,"server":${server}` : ''}${
    f.upstreamAddr ? `,"upstream_addr":${f.upstreamAddr === f.server ? server : str(f.upstreamAddr)},"upstream_connect_time":${seconds(f.upstreamConnectTime)},"upstream_header_time":${seconds(f.upstreamHeaderTime)},"upstream_response_time":${seconds(f.upstreamResponseTime)}` : ''}${
    f.cache ? `,"cache":${str(f.cache)}` : ''}${f.userAgent ? `,"user_agent":${str(f.userAgent)}` : ''}${f.referer ? `,"referer":${str(f.referer)}` : ''}${
    f.tlsVersion ? `,"tls_version":"${f.tlsVersion}","tls_cipher":${str(f.tlsCipher ?? '')}` : ''}${
    f.traceId ? `,"trace_id":"${f.traceId}"${f.spanId ? `,"span_id":"${f.spanId}"` : ''}` : ''},"completed":${f.completed},"msg":"request"}\n`;
}

/** A JSON string: most values need no escaping, and the test is cheaper than JSON.stringify's copy. */
function str(value: string): string {
  return SAFE.test(value) ? `"${value}"` : JSON.stringify(value);
}

/**
 * Seconds to the microsecond ("0.000412"), or null when not known. Made from integers: V8's
 * shortest-double formatting took 130 ns a value here, this 45 (four per line).
 */
function seconds(value: number): string {
  if (!Number.isFinite(value)) return 'null';
  const micros = Math.round(value * 1e6);
  if (micros < 0) return String(micros / 1e6);
  const fraction = micros % 1_000_000;
  return `${(micros - fraction) / 1_000_000}.${fraction < 100_000 ? String(fraction + 1_000_000).slice(1) : fraction}`;
}

/** A number, or null for what is not known (NaN is not JSON). */
function num(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

const SAFE = /^[^"\\\u0000-\u001f\u007f-\uffff]*$/;
