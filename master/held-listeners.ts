/**
 * The listening sockets, owned by the master (nginx's model): bound here before
 * any child starts, handed to each proxy process over IPC, and kept open while a
 * proxy dies or is replaced, so that new connections wait in the kernel's
 * backlog instead of being refused.
 *
 * The master binds but never listens: the first proxy's listen() puts the socket
 * in the LISTEN state, and from then on the master's copy keeps it there without
 * the master accepting anything (a listening server in the master would take a
 * share of the connections). Node's public API cannot bind without listening;
 * `net._createServerHandle` is what Node's own cluster module uses for exactly
 * this (its shared-handle mode), on Node 20, 22 and 24.
 */
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import { getSystemErrorName } from 'node:util';
import { listenErrorOf, type ListenError } from '../lib/listen-error.js';

/** A bound socket, as Node's TCP wrap: what child.send() passes as a handle. */
export interface SocketHandle {
  getsockname(out: { address?: string; port?: number }): number;
  close(): void;
}

type CreateServerHandle = (address: string, port: number, addressType: 4 | 6) => SocketHandle | number;
const createServerHandle = (net as unknown as { _createServerHandle?: CreateServerHandle })._createServerHandle;

/** Where a listener asks to be: host (a name, an address, or every interface) and port (0: any). */
export interface RequestedAddress {
  host?: string;
  port: number;
}

interface Held {
  handle: SocketHandle;
  port: number;
  /**
   * The processes using it, with how many of their listeners do (a reload that goes
   * A → B → A opens A again before the first A has drained); the master keeps it
   * while one does or the config names it.
   */
  holders: Map<string, number>;
}

export class HeldListeners {
  private readonly held = new Map<string, Held>();
  /** Binds under way (a name being looked up): a second request for the same address waits for the first. */
  private readonly binding = new Map<string, Promise<Held>>();
  /** The addresses the master's own view of the config names (the latest valid file). */
  private wanted = new Set<string>();

  /** The bound socket for `key` (e.g. "listen.http") at `address`: the one already held, or a new one. */
  async hold(key: string, address: RequestedAddress, holder?: string): Promise<{ handle: SocketHandle; port: number }> {
    const id = idOf(key, address);
    let entry = this.held.get(id);
    if (!entry) {
      let pending = this.binding.get(id);
      if (!pending) {
        pending = bind(key, address).then((bound) => ({ ...bound, holders: new Map<string, number>() }));
        this.binding.set(id, pending);
        void pending.then((held) => this.held.set(id, held), () => {}).finally(() => this.binding.delete(id));
      }
      entry = await pending;
    }
    if (holder) entry.holders.set(holder, (entry.holders.get(holder) ?? 0) + 1);
    return entry;
  }

  /** The config's listeners, which the master keeps even while no proxy runs. */
  want(addresses: Array<[key: string, address: RequestedAddress]>): void {
    this.wanted = new Set(addresses.map(([key, address]) => idOf(key, address)));
    this.closeUnused();
  }

  /** `holder` no longer uses `key` at `address` (a reload moved it, and the old listener drained). */
  release(holder: string, key: string, address: RequestedAddress): void {
    const holders = this.held.get(idOf(key, address))?.holders;
    const uses = (holders?.get(holder) ?? 0) - 1;
    if (uses > 0) holders!.set(holder, uses);
    else holders?.delete(holder);
    this.closeUnused();
  }

  /** `holder`'s process exited: it holds nothing now (its successor asks again for what it needs). */
  releaseAll(holder: string): void {
    for (const entry of this.held.values()) entry.holders.delete(holder);
    this.closeUnused();
  }

  closeAll(): void {
    for (const entry of this.held.values()) entry.handle.close();
    this.held.clear();
  }

  private closeUnused(): void {
    for (const [id, entry] of this.held) {
      if (entry.holders.size > 0 || this.wanted.has(id)) continue;
      entry.handle.close();
      this.held.delete(id);
    }
  }
}

function idOf(key: string, address: RequestedAddress): string {
  return `${key} ${address.host ?? '*'} ${address.port}`;
}

/** Binds host:port as net.Server.listen() would (a name resolves to its first address; no host: every interface). */
async function bind(key: string, address: RequestedAddress): Promise<{ handle: SocketHandle; port: number }> {
  if (!createServerHandle) throw new Error('this Node.js has no net._createServerHandle: the master cannot hold listening sockets');
  const fail = (code: string): ListenError => listenErrorOf(Object.assign(new Error(code), { code }), key, address.host, address.port);
  let ip: string;
  let family: 4 | 6;
  if (address.host === undefined) {
    [ip, family] = ['::', 6];
  } else {
    const found = await lookup(address.host).catch((err: NodeJS.ErrnoException) => { throw fail(err.code ?? 'ENOTFOUND'); });
    [ip, family] = [found.address, found.family === 6 ? 6 : 4];
  }
  let handle = createServerHandle(ip, address.port, family);
  // No host and no IPv6 on this machine: every IPv4 interface, as net.Server does.
  if (typeof handle === 'number' && address.host === undefined) handle = createServerHandle('0.0.0.0', address.port, 4);
  if (typeof handle === 'number') throw fail(getSystemErrorName(handle));
  // libuv defers EADDRINUSE from bind() to listen(); getsockname() tells it now, while the start can still stop.
  const out: { port?: number } = {};
  const err = handle.getsockname(out);
  if (err !== 0 || out.port === undefined) {
    handle.close();
    throw fail(err !== 0 ? getSystemErrorName(err) : 'EADDRINUSE');
  }
  return { handle, port: out.port };
}
