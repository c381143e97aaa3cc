/**
 * A proxy under a master listens on sockets the master holds (master/held-listeners.ts):
 * it asks for one by its config key and address and gets the bound socket back
 * over IPC, or the master's bind error. A proxy run alone binds its own.
 */
import type { ListenReplyMessage, ListenRequestMessage } from '../../lib/ipc.js';
import { isIpcMessage } from '../../lib/ipc.js';
import type { Server as NetServer } from 'node:net';
import { ListenError, listenErrorOf } from '../../lib/listen-error.js';

/** What server.listen() takes: Node's TCP handle as the master sent it. */
export type ListenHandle = object;

/** The master answers at once (a bind, or a name looked up): this only guards against a master that is gone. */
const REPLY_TIMEOUT_MS = 10_000;

const waiting = new Map<number, (reply: ListenReplyMessage, handle: ListenHandle | undefined) => void>();
let nextId = 1;
let subscribed = false;

/** True when a master holds this process's listening sockets. */
export function masterHoldsSockets(): boolean {
  return process.connected && process.env.PORTICO_HELD_SOCKETS === '1';
}

/**
 * The master's socket for listener `key` ("listen.http") at host:port; undefined
 * when no master holds sockets (listen on the address itself). Rejects with the
 * master's ListenError when it cannot bind the address.
 */
export function socketFromMaster(key: string, host: string | undefined, port: number): Promise<ListenHandle> | undefined {
  if (!masterHoldsSockets()) return undefined;
  if (!subscribed) {
    subscribed = true;
    process.on('message', (message: unknown, handle: unknown) => {
      if (!isIpcMessage(message) || message.type !== 'listen-reply') return;
      waiting.get(message.id)?.(message, handle as ListenHandle | undefined);
      waiting.delete(message.id);
    });
  }
  const id = nextId++;
  const request: ListenRequestMessage = { type: 'listen', id, key, host, port };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      waiting.delete(id);
      reject(new Error(`the master did not send the socket for ${key} within ${REPLY_TIMEOUT_MS} ms`));
    }, REPLY_TIMEOUT_MS);
    waiting.set(id, (reply, handle) => {
      clearTimeout(timer);
      if (reply.error || !handle) reject(new ListenError(key, reply.error?.address ?? `${host ?? '0.0.0.0'}:${port}`, reply.error?.code ?? '', new Error(reply.error?.message ?? 'no socket')));
      else resolve(handle);
    });
    if (!process.connected) return reject(new Error('the master is gone'));
    process.send!(request);
  });
}

/** Tells the master this process no longer uses `key` at host:port (a reload moved the listener and the old one drained). */
export function releaseToMaster(key: string, host: string | undefined, port: number): void {
  if (masterHoldsSockets()) process.send?.({ type: 'listen-release', key, host, port });
}

/**
 * Listens with `server` on listener `key` at host:port: on the master's socket when a
 * master holds them (it outlives this process), else on the address itself.
 * @throws ListenError naming the address, `key` and the reason.
 */
export async function listenOn(server: NetServer, key: string, host: string | undefined, port: number): Promise<void> {
  const held = await socketFromMaster(key, host, port);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const done = () => {
      server.off('error', reject);
      resolve();
    };
    if (held) server.listen(held, done);
    else server.listen(port, host, done);
  }).catch((err: Error) => { throw listenErrorOf(err, key, host, port); });
}
