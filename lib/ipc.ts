/** Messages between the master and its children over Node's IPC channel. */

/** What the supervisor says of a local backend. */
export type LocalState = 'starting' | 'ready' | 'down' | 'draining';

/** A local backend as the master announces it to the proxy. */
export interface LocalServer {
  url: string;
  state: LocalState;
  pid?: number;
}

export interface SupervisedProcess {
  name: string;
  /** starting | ready | backoff | stopping | stopped */
  state: string;
  restarts: number;
  pid?: number;
}

/** Child → master: listening and able to serve, on these ports. */
export interface ReadyMessage {
  type: 'ready';
  port?: number;
  http?: number;
  https?: number;
  admin?: number;
}

/** Master → proxy: the state of every supervised process, and the local backends by URL. */
export interface PoolMessage {
  type: 'pool';
  processes: SupervisedProcess[];
  servers: LocalServer[];
}

/** Proxy → master: the admin asked for a rolling restart of the pool. */
export interface PoolRestartMessage {
  type: 'pool-restart';
}

/** Child → master: it cannot start for a reason a restart cannot fix (a listener's address); it exits next. */
export interface FatalMessage {
  type: 'fatal';
  message: string;
}

export type IpcMessage = ReadyMessage | PoolMessage | PoolRestartMessage | FatalMessage;

export function isIpcMessage(value: unknown): value is IpcMessage {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}
