/** The end of an exchange: its request metrics and its access-log line, made in this one place. */
import type { ProxyMetrics } from '../metrics.js';
import type { AccessLog } from './access-log.js';
import { KNOWN_METHODS } from './methods.js';
import type { Exchange } from './exchange.js';
import { requestLengthOf } from './request-length.js';
import { traceIdOf } from '../../lib/tracing/propagation.js';

/** Status codes as label values, made once each (the same string objects every time, which the metrics' maps hash once). */
const CODE_LABELS: string[] = [];
function codeLabel(status: number): string {
  return (CODE_LABELS[status] ??= String(status));
}

export type Recorder = (x: Exchange, written?: boolean) => void;

/**
 * `written`: the response was written whole into the socket's buffer (a fresh
 * cache hit), so it is recorded at once instead of on 'close'. A response that
 * did not finish (the client left, a backend died mid-body) is counted as code 0.
 */
export function createRecorder(metrics: ProxyMetrics, accessLog: AccessLog): Recorder {
  return function record(x, written = false) {
    const { req, res } = x;
    const seconds = (performance.now() - x.started) / 1000;
    const method = KNOWN_METHODS.has(req.method ?? '') ? req.method! : 'OTHER';
    const completed = written || res.writableFinished;
    const code = completed ? codeLabel(res.statusCode) : '0';
    metrics.requests.inc({ route: x.route, upstream: x.upstream, server: x.server, code, method });
    metrics.requestDuration.observe({ route: x.route, upstream: x.upstream }, seconds);
    x.trace?.end(res.statusCode, completed, x.route, x.upstream, x.server, x.cache);
    if (!x.accessLog) return;
    const { headers } = req;
    const answered = x.answered;
    const tls = x.tls;
    accessLog({
      id: x.id, client: x.client, method: req.method, path: x.target, protocol: protocolOf(req.httpVersionMajor, req.httpVersionMinor),
      host: headers.host ?? headers[':authority'] as string | undefined, status: res.statusCode,
      bytes: x.bodyCount ? x.bodyCount.bytes : req.socket.bytesWritten - x.bytesBefore, requestLength: requestLengthOf(req), duration: seconds,
      route: x.route, upstream: x.upstream, server: x.server, upstreamAddr: x.upstreamAddr,
      upstreamConnectTime: answered ? answered.connectMs / 1000 : Number.NaN,
      upstreamHeaderTime: answered ? answered.headersMs / 1000 : Number.NaN,
      upstreamResponseTime: answered ? ((Number.isNaN(answered.endedAt) ? performance.now() : answered.endedAt) - answered.startedAt) / 1000 : Number.NaN,
      cache: x.cache, userAgent: headers['user-agent'], referer: headers.referer, tlsVersion: tls?.version, tlsCipher: tls?.cipher,
      // Tracing off: the trace id of a trusted hop's traceparent, which went upstream unchanged.
      traceId: x.trace ? x.trace.traceId : x.view.fromTrusted ? traceIdOf(headers.traceparent) : undefined, spanId: x.trace?.spanId, completed,
    });
  };
}

const PROTOCOLS = new Map<number, string>();
/** "HTTP/1.1", made once per version (the parser accepts only single digits). */
function protocolOf(major: number, minor: number): string {
  const key = major * 10 + minor;
  let protocol = PROTOCOLS.get(key);
  if (protocol === undefined) PROTOCOLS.set(key, (protocol = `HTTP/${major}.${minor}`));
  return protocol;
}
