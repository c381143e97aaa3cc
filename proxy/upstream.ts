/**
 * An upstream group: its servers' state (up, in flight) and its policy. The
 * upstream does the bookkeeping; the policy only chooses among available servers.
 * Servers listed in the config are assumed up; local backends of the supervised
 * pool are the master's to announce (their ports may be picked at run time).
 */
import type { UpstreamConfig } from '../lib/config/load.js';
import { createPolicy } from './policies/index.js';
import type { Policy } from './policies/policy.js';

/** What the supervisor says of a local backend. */
export type LocalState = 'starting' | 'ready' | 'down' | 'draining';

/** A connect failure keeps a server out of rotation this long (issue 4 brings health checks). */
export const EJECT_MS = 1000;

export class ServerState {
  inflight = 0;
  ejectedUntil = 0;

  constructor(readonly url: string, readonly weight: number, readonly local: boolean, public localState: LocalState = 'ready') {}

  available(now: number): boolean {
    return this.localState === 'ready' && now >= this.ejectedUntil;
  }
}

export interface UpstreamStats {
  name: string;
  policy: string;
  servers: Array<{ url: string; local: boolean; up: boolean; state: LocalState; inflight: number }>;
}

export interface LocalServer {
  url: string;
  state: LocalState;
}

export class Upstream {
  servers: ServerState[];
  private readonly policy: Policy;

  /** `supervised`: local servers come from the master (setLocalServers), not from the config. */
  constructor(readonly config: UpstreamConfig, supervised: boolean, private readonly now = Date.now) {
    this.servers = config.servers
      .filter((s) => !(s.local && supervised))
      .map((s) => new ServerState(s.url, s.weight, s.local));
    this.policy = createPolicy(config.policy);
  }

  /** Picks an available server not in `exclude` (servers already tried by this request). */
  pick(exclude: ReadonlySet<ServerState> = new Set()): ServerState | undefined {
    const now = this.now();
    const candidates = this.servers.filter((s) => s.available(now) && !exclude.has(s));
    return this.policy.pick(candidates);
  }

  /** A connect failure: take the server out for EJECT_MS. */
  eject(server: ServerState): void {
    server.ejectedUntil = this.now() + EJECT_MS;
  }

  /** Replaces the local backends with the master's list, keeping the state of those that stay. */
  setLocalServers(list: LocalServer[]): void {
    const existing = new Map(this.servers.filter((s) => s.local).map((s) => [s.url, s]));
    const local = list.map(({ url, state }) => {
      const server = existing.get(url) ?? new ServerState(url, 1, true, state);
      server.localState = state;
      return server;
    });
    this.servers = [...this.servers.filter((s) => !s.local), ...local];
  }

  stats(): UpstreamStats {
    const now = this.now();
    return {
      name: this.config.name,
      policy: this.config.policy,
      servers: this.servers.map((s) => ({ url: s.url, local: s.local, up: s.available(now), state: s.localState, inflight: s.inflight })),
    };
  }
}
