/** The TLS version and cipher of a client's connection for the access log, asked once per connection. */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

export interface TlsInfo {
  version: string;
  cipher: string;
}

const byConnection = new WeakMap<object, TlsInfo | null>();

/**
 * undefined for plain HTTP. Call it while the request is open: an HTTP/2
 * request's socket is a view of its stream's session, gone when the stream closes.
 */
export function tlsInfoOf(req: IncomingMessage): TlsInfo | undefined {
  const socket = req.socket as TLSSocket;
  // Each HTTP/2 stream has its own socket view; its session is the connection.
  const connection: object = (req as IncomingMessage & { stream?: { session?: object } }).stream?.session ?? socket;
  let info = byConnection.get(connection);
  if (info === undefined) {
    info = socket.encrypted ? { version: socket.getProtocol() ?? '', cipher: socket.getCipher()?.name ?? '' } : null;
    byConnection.set(connection, info);
  }
  return info ?? undefined;
}
