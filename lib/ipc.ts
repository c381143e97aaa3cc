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

/** Proxy → master: the admin asked for the proxy processes to be replaced without downtime. */
export interface ProxyRestartMessage {
  type: 'proxy-restart';
}

/** Proxy → master: send me the pool's state now (a new proxy waits for it before it accepts). */
export interface PoolRequestMessage {
  type: 'pool-request';
}

/** Proxy → master: the socket for listener `key` at host:port, please (the master binds it if it holds none). */
export interface ListenRequestMessage {
  type: 'listen';
  id: number;
  key: string;
  host?: string;
  port: number;
}

/** Master → proxy: the answer to a ListenRequestMessage; the socket travels as the message's handle. */
export interface ListenReplyMessage {
  type: 'listen-reply';
  id: number;
  error?: { address: string; code: string; message: string };
}

/** Proxy → master: it no longer uses listener `key` at host:port. */
export interface ListenReleaseMessage {
  type: 'listen-release';
  key: string;
  host?: string;
  port: number;
}

/** What one proxy worker reports of itself for an admin answer covering all of them. */
export type ReportKind = 'status' | 'metrics';

/** Proxy → master: an admin request wants every worker's report (`proxy.workers` > 1). */
export interface CollectMessage {
  type: 'collect';
  id: number;
  what: ReportKind;
}

/** Master → proxy: report `what` of yourself. */
export interface ReportRequestMessage {
  type: 'report';
  id: number;
  what: ReportKind;
}

/** Proxy → master: the report asked for. */
export interface ReportReplyMessage {
  type: 'report-reply';
  id: number;
  body: unknown;
}

/** Master → proxy: every serving worker's report, by worker number; a worker that did not answer in time is left out. */
export interface CollectReplyMessage {
  type: 'collect-reply';
  id: number;
  reports: Array<{ worker: number; body: unknown }>;
}

/** Proxy → master → every other proxy worker: do what this admin request did here too (reload, cache purge). */
export interface WorkersBroadcastMessage {
  type: 'broadcast';
  message: ReloadMessage | PurgeMessage;
}

/** Master → proxy worker: another worker took POST /reload. */
export interface ReloadMessage {
  type: 'reload';
}

/** Master → proxy worker: another worker took a cache purge. */
export interface PurgeMessage {
  type: 'purge';
  match: { target?: string; prefix?: string; host?: string };
}

export type IpcMessage = ReadyMessage | PoolMessage | PoolRestartMessage | FatalMessage | ProxyRestartMessage | PoolRequestMessage | ListenRequestMessage | ListenReplyMessage | ListenReleaseMessage | CollectMessage | ReportRequestMessage | ReportReplyMessage | CollectReplyMessage | WorkersBroadcastMessage | ReloadMessage | PurgeMessage;

export function isIpcMessage(value: unknown): value is IpcMessage {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}
