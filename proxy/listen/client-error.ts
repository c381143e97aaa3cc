/**
 * Requests Node's HTTP parser refuses before they reach the handler: ambiguous
 * or malformed framing (both Content-Length and Transfer-Encoding, bad chunk
 * sizes, obs-fold, bare CR...), headers over the limit, clients too slow to
 * send them. Each gets a problem+json answer, a closed connection (nothing
 * after a broken frame can be trusted: that is how requests get smuggled), and
 * a count in portico_rejected_requests_total.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { problem, PROBLEM_CONTENT_TYPE } from '../../lib/problem.js';

export function rejectionOf(code: string | undefined): { status: number; reason: string; detail: string } {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, reason: 'headers_too_large', detail: 'the request line and headers are larger than this server accepts' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, reason: 'request_timeout', detail: 'the request was not received in time' };
    default:
      return { status: 400, reason: 'malformed', detail: `the request is not valid HTTP/1.1 (${code ?? 'parse error'}); see RFC 9112` };
  }
}

/** The `clientError` listener of an HTTP or HTTPS server. */
export function onClientError(count: (reason: string) => void) {
  return (err: NodeJS.ErrnoException, socket: Duplex): void => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const { status, reason, detail } = rejectionOf(err.code);
    count(reason);
    answerAndClose(socket, status, detail);
  };
}

/** The `connect` listener: Portico is a reverse proxy, not a forward one; CONNECT opens no tunnel. */
export function onConnect(count: (reason: string) => void) {
  return (_req: unknown, socket: Duplex): void => {
    count('connect');
    answerAndClose(socket, 405, 'CONNECT is not served: this is a reverse proxy, not a forward proxy', 'Allow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n');
  };
}

function answerAndClose(socket: Duplex, status: number, detail: string, extra = ''): void {
  const body = JSON.stringify(problem(status, detail));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\n${extra}Content-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
