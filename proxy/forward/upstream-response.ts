/**
 * One attempt's exchange with the upstream through undici's dispatch API: the
 * handler undici calls, and the response it yields. The body goes straight
 * into the client's response (`pipeTo`), with undici paused while the client
 * is slow, instead of through a Readable and a pipe: measured, a minimal proxy
 * on dispatch carries 1.25 × the requests of one on `Pool.request` (bench:hot-path).
 * Code that wants a stream (the cache's copy) asks for `body` and gets one.
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { ClientLeft } from '../../lib/client-left.js';
import { stripHopByHop } from './hop-by-hop.js';

type Controller = Parameters<NonNullable<Dispatcher.DispatchHandler['onRequestStart']>>[0];

/** Chunks held for a consumer that has not attached yet, past which undici is paused. */
const HELD_BYTES = 64 * 1024;

/** An undici error, before any response came. */
export type DispatchError = Error & { code?: string };

/** A response on its way: headers read (hop-by-hop ones removed), body still streaming. */
export class UpstreamResponse {
  readonly kind = 'response';
  readonly retryAfter: string | undefined;
  private held: Buffer[] | undefined;
  private heldBytes = 0;
  private sink: ServerResponse | undefined;
  private stream: Readable | undefined;
  private state: 'open' | 'ended' | 'failed' = 'open';
  private failure: Error | undefined;
  private doneCallbacks: Array<() => void> | undefined;
  /** When the body ended or failed (performance.now()); NaN while it streams. */
  endedAt = Number.NaN;

  constructor(
    private readonly controller: Controller,
    readonly status: number,
    readonly headers: Record<string, string | string[]>,
    /** When the attempt began (performance.now()). */
    readonly startedAt: number,
    /** From the attempt's start until the request went out on a connection (nginx's $upstream_connect_time). */
    readonly connectMs: number,
    /** From the attempt's start until the response headers (nginx's $upstream_header_time). */
    readonly headersMs: number,
  ) {
    const retryAfter = headers['retry-after'];
    this.retryAfter = Array.isArray(retryAfter) ? retryAfter[0] : retryAfter;
  }

  /** Writes the body into `res` (its head written already), pausing the upstream while `res` is full. */
  pipeTo(res: ServerResponse): void {
    if (this.stream) {
      this.stream.on('error', () => res.destroy());
      this.stream.pipe(res);
      return;
    }
    this.sink = res;
    // One listener for the response's life: once() per pause would leave one behind each time on a
    // compressed route, whose `compression` package moves 'drain' listeners to its zlib stream.
    res.on('drain', () => this.controller.resume());
    const held = this.held;
    this.held = undefined;
    if (held) for (const chunk of held) res.write(chunk);
    if (this.state === 'ended') res.end();
    else if (this.state === 'failed') res.destroy();
    else this.controller.resume();
  }

  /** The body as a stream, for code that reads it itself (made on first use; then `pipeTo` pipes it). */
  get body(): Readable {
    if (!this.stream) {
      const stream = new Readable({
        read: () => this.controller.resume(),
        destroy: (err, callback) => {
          this.destroy();
          callback(err);
        },
      });
      this.stream = stream;
      const held = this.held;
      this.held = undefined;
      if (held) for (const chunk of held) stream.push(chunk);
      if (this.state === 'ended') stream.push(null);
      else if (this.state === 'failed') failStream(stream, this.failure!);
    }
    return this.stream;
  }

  /** The body broke off (the upstream failed or was cut off) before its end. */
  get failed(): boolean {
    return this.state === 'failed';
  }

  /** Calls `callback` once the upstream has sent the whole body, failed, or been cut off. */
  whenDone(callback: () => void): void {
    if (this.state !== 'open') return callback();
    (this.doneCallbacks ??= []).push(callback);
  }

  /** Stops the upstream's body (the client left, or nobody will read it). */
  destroy(): void {
    if (this.state === 'open') this.controller.abort(new Error('the response body was destroyed'));
  }

  /** undici's onResponseData. */
  push(chunk: Buffer): void {
    if (this.sink) {
      if (this.sink.destroyed) return this.destroy();
      if (!this.sink.write(chunk)) this.controller.pause();
    } else if (this.stream) {
      if (!this.stream.push(chunk)) this.controller.pause();
    } else {
      (this.held ??= []).push(chunk);
      this.heldBytes += chunk.length;
      if (this.heldBytes > HELD_BYTES) this.controller.pause();
    }
  }

  /** undici's onResponseEnd. */
  end(): void {
    this.state = 'ended';
    this.endedAt = performance.now();
    if (this.sink) this.sink.end();
    else if (this.stream) this.stream.push(null);
    this.done();
  }

  /** undici's onResponseError after the headers: a backend that died mid-body closes the client's connection. */
  fail(err: Error): void {
    if (this.state !== 'open') return;
    this.state = 'failed';
    this.endedAt = performance.now();
    this.failure = err;
    if (this.sink) this.sink.destroy();
    else if (this.stream) failStream(this.stream, err);
    this.done();
  }

  /** Every callback runs, even after one throws (they release the balancer's slot). */
  private done(): void {
    const callbacks = this.doneCallbacks;
    this.doneCallbacks = undefined;
    if (!callbacks) return;
    let thrown: unknown;
    for (const callback of callbacks) {
      try {
        callback();
      } catch (err) {
        thrown ??= err;
      }
    }
    if (thrown !== undefined) throw thrown;
  }
}

/**
 * Ends `stream` with `err` without making it an unhandled 'error' event: code that only
 * drains the body (the cache, `body.resume()`) does not listen for errors, and an
 * unhandled one would end the process. Listeners of its own (pipe, finished) still get it,
 * as undici's own request() does it.
 */
function failStream(stream: Readable, err: Error): void {
  stream.on('error', () => {});
  stream.destroy(err);
}

/**
 * The handler of one dispatch: settles with the response when its headers
 * arrive, or with the error that came first; aborts when the client leaves.
 */
export class ResponseHandler implements Dispatcher.DispatchHandler {
  private controller: Controller | undefined;
  private response: UpstreamResponse | undefined;
  /** When undici put the request on a connection (a new one connected, or a kept-alive one). */
  private connectedAt = Number.NaN;
  private readonly onClientLeft = () => this.controller?.abort(new Error('the client left'));

  constructor(
    private readonly started: number,
    private readonly clientLeft: ClientLeft,
    private readonly settle: (outcome: UpstreamResponse | DispatchError) => void,
  ) {
    clientLeft.once('abort', this.onClientLeft);
  }

  onRequestStart(controller: Controller): void {
    this.controller = controller;
    this.connectedAt = performance.now();
    if (this.clientLeft.aborted) controller.abort(new Error('the client left'));
  }

  onResponseStart(controller: Controller, statusCode: number, headers: IncomingHttpHeaders): void {
    if (statusCode < 200) return; // 103 Early Hints and the like: the final response follows
    this.response = new UpstreamResponse(controller, statusCode, stripHopByHop(headers), this.started, this.connectedAt - this.started, performance.now() - this.started);
    this.settle(this.response);
  }

  onResponseData(_controller: Controller, chunk: Buffer): void {
    this.response!.push(chunk);
  }

  onResponseEnd(): void {
    this.clientLeft.removeListener('abort', this.onClientLeft);
    this.response!.end();
  }

  onResponseError(_controller: Controller, err: Error): void {
    this.clientLeft.removeListener('abort', this.onClientLeft);
    if (this.response) this.response.fail(err);
    else this.settle(err);
  }
}
