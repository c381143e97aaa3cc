/**
 * nginx's $request_length for the access log: the request line, headers and
 * body as they came. On HTTP/1 it is what the connection read since its
 * previous request was logged; an HTTP/2 stream shares its connection, so there
 * it is the decoded headers plus the declared body length.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/** Each HTTP/1 connection's bytesRead when its previous request was logged. */
const loggedUpTo = new WeakMap<Socket, number>();

export function requestLengthOf(req: IncomingMessage): number {
  if (req.httpVersionMajor === 2) return http2Length(req);
  const socket = req.socket;
  const read = socket.bytesRead;
  const length = read - (loggedUpTo.get(socket) ?? 0);
  loggedUpTo.set(socket, read);
  return length;
}

function http2Length(req: IncomingMessage): number {
  const raw = req.rawHeaders;
  let length = 0;
  // Each field as `name: value\r\n`, the form HTTP/1 would have sent.
  for (let i = 0; i < raw.length; i += 2) length += raw[i]!.length + raw[i + 1]!.length + 4;
  const declared = Number(req.headers['content-length'] ?? 0);
  return length + (Number.isFinite(declared) ? declared : 0);
}
