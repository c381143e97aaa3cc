/** The end of an exchange: its request metrics and its access-log line, made in this one place. */
import type { Logger } from '../../lib/log.js';
import type { ProxyMetrics } from '../metrics.js';
import { createAccessLog } from './access-log.js';
import type { Exchange } from './exchange.js';

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE', 'POST', 'PATCH', 'CONNECT']);

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
export function createRecorder(metrics: ProxyMetrics, log: Logger): Recorder {
  const accessLog = createAccessLog(log);
  return function record(x, written = false) {
    const { req, res } = x;
    const seconds = (performance.now() - x.started) / 1000;
    const method = KNOWN_METHODS.has(req.method ?? '') ? req.method! : 'OTHER';
    const completed = written || res.writableFinished;
    const code = completed ? codeLabel(res.statusCode) : '0';
    metrics.requests.inc({ route: x.route, upstream: x.upstream, server: x.server, code, method });
    metrics.requestDuration.observe({ route: x.route, upstream: x.upstream }, seconds);
    if (!x.accessLog) return;
    accessLog({
      id: x.id, client: x.client, method: req.method, path: x.target, status: res.statusCode,
      bytes: req.socket.bytesWritten - x.bytesBefore, duration: Math.round(seconds * 1e6) / 1e6,
      route: x.route, upstream: x.upstream, server: x.server, cache: x.cache, completed,
    });
  };
}
