/** What an upstream exchange produced, and how it reaches the client. */
import type { ServerResponse } from 'node:http';
import { pipeToClient, type OutgoingRequest, type UpstreamResponse } from './forward.js';
import { sendProblem } from '../request/respond.js';

export type Fetched =
  /** A response whose body is streaming; whoever takes it must read or destroy the body. */
  | { kind: 'response'; response: UpstreamResponse }
  /** Our own answer (shed, failed, timed out), as problem+json. */
  | { kind: 'problem'; status: number; detail: string; headers?: Record<string, string>; close?: boolean }
  /** The client left: nobody to answer. */
  | { kind: 'gone' };

/** Sends a request through the upstream's balancing, queue and retries. */
export type FetchUpstream = (outgoing: OutgoingRequest) => Promise<Fetched>;

/** Hands what the upstream exchange produced to the client, with `extra` headers. */
export function deliver(fetched: Fetched, res: ServerResponse, extra?: Record<string, string>): void {
  if (fetched.kind === 'response') return pipeToClient(fetched.response, res, extra);
  if (fetched.kind === 'gone') return void res.destroy();
  if (fetched.close) res.shouldKeepAlive = false; // an unread body must not be taken for the next request
  sendProblem(res, fetched.status, fetched.detail, { ...fetched.headers, ...extra });
}
