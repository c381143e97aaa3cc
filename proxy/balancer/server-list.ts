/**
 * An upstream's servers, from three sources: the config's list, each `{dns,
 * port}` entry's latest answer, and the master's local backends. Every source
 * is merged the same way: servers that stay keep their state and in-flight
 * requests, new ones are made, gone ones drop out (finishing what they have).
 * The order is stable: configured, then discovered, then local.
 */
import type { LocalServer } from '../../lib/ipc.js';
import type { HealthOptions } from './health-options.js';
import { ServerState } from './server-state.js';

interface Entry {
  url: string;
  weight: number;
}

export class ServerList {
  /** Every server, in order; replaced (never mutated) on a change, so a loop over it is never disturbed. */
  all: ServerState[] = [];
  private configured: ServerState[] = [];
  private readonly discovered = new Map<string, ServerState[]>();
  private local: ServerState[] = [];

  constructor(private readonly options: HealthOptions, private readonly now: () => number) {}

  /**
   * The config's servers (local ones too, when no master announces them).
   * `startUnhealthy`: new servers wait for a passing active check. Returns the servers added.
   */
  setConfigured(entries: Array<Entry & { local: boolean }>, startUnhealthy: boolean): ServerState[] {
    const { servers, added } = this.merge(this.configured, entries, startUnhealthy, (e) => new ServerState(e.url, e.weight, e.local, this.options, this.now));
    // A weight edited in the file applies to a server that stays.
    for (const [i, server] of servers.entries()) server.configuredWeight = entries[i]!.weight;
    this.configured = servers;
    this.rebuild();
    return added;
  }

  /** The latest answer of the DNS entry `key`; returns the servers added. */
  setDiscovered(key: string, urls: string[], weight: number, startUnhealthy: boolean): ServerState[] {
    const entries = urls.map((url) => ({ url, weight }));
    const { servers, added } = this.merge(this.discovered.get(key) ?? [], entries, startUnhealthy, (e) => {
      const server = new ServerState(e.url, e.weight, false, this.options, this.now);
      server.discoveredBy = key;
      return server;
    });
    this.discovered.set(key, servers);
    this.rebuild();
    return added;
  }

  /** Drops the servers of DNS entries no longer in the config. */
  keepDiscovered(keys: ReadonlySet<string>): void {
    for (const key of this.discovered.keys()) if (!keys.has(key)) this.discovered.delete(key);
    this.rebuild();
  }

  /** The master's word on the local backends: state, pid, and slow start for one that became ready. */
  setLocal(list: LocalServer[]): void {
    const { servers } = this.merge(this.local, list.map((l) => ({ url: l.url, weight: 1 })), false, (e, i) => new ServerState(e.url, 1, true, this.options, this.now, list[i]!.state));
    for (const [i, server] of servers.entries()) {
      const { state, pid } = list[i]!;
      server.pid = pid;
      if (server.localState !== 'ready' && state === 'ready') server.markUp();
      if (state !== 'ready') server.markDown();
      server.localState = state;
    }
    this.local = servers;
    this.rebuild();
  }

  /**
   * `entries` as servers: those of `previous` with the same URL kept, the rest made
   * (`startUnhealthy`: to wait for a passing active check before they get traffic).
   */
  private merge<E extends Entry>(previous: ServerState[], entries: E[], startUnhealthy: boolean, make: (entry: E, index: number) => ServerState): { servers: ServerState[]; added: ServerState[] } {
    const byUrl = new Map(previous.map((s) => [s.url, s]));
    const added: ServerState[] = [];
    const servers = entries.map((entry, i) => {
      const kept = byUrl.get(entry.url);
      if (kept) return kept;
      const fresh = make(entry, i);
      if (startUnhealthy) fresh.healthy = false;
      added.push(fresh);
      return fresh;
    });
    return { servers, added };
  }

  private rebuild(): void {
    this.all = [...this.configured, ...[...this.discovered.values()].flat(), ...this.local];
  }
}
