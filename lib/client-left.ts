/**
 * A request's "the client left" signal. undici takes any EventEmitter with
 * `aborted` as a request's signal, and this one costs an object, where an
 * AbortController per request built an EventTarget and its listener records
 * (profiled on the pass-through path: about 3 % of the proxy's CPU).
 */
import { EventEmitter } from 'node:events';

export class ClientLeft extends EventEmitter {
  aborted = false;

  /** Fires 'abort' once: queued requests leave the queue, requests in flight are cancelled. */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.emit('abort');
  }
}

/** What waits on a ClientLeft: `aborted`, and its 'abort' event. */
export type LeftSignal = Pick<ClientLeft, 'aborted' | 'once' | 'removeListener'>;
