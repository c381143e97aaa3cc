/** The TLS version and cipher of a client's connection for the access log, asked once per connection. */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

export interface TlsInfo {
  version: string;
  cipher: string;
}

const byConnection = new WeakMap<object, TlsInfo | null>();

/** undefined for plain HTTP. */
export function tlsInfoOf(req: IncomingMessage): TlsInfo | undefined {
  const socket = req.socket as TLSSocket;
  let info = byConnection.get(socket);
  if (info === undefined) {
    info = socket.encrypted ? { version: socket.getProtocol() ?? '', cipher: socket.getCipher()?.name ?? '' } : null;
    byConnection.set(socket, info);
  }
  return info ?? undefined;
}
