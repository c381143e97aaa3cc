/**
 * Sends one attempt of a request to one upstream server with http-proxy-3 over a
 * keep-alive agent (without one, http-proxy-3 closes every connection), and says
 * how it ended: a response (being streamed to the client), an error, or the client gone.
 */
import { Agent, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { createProxyServer, type ProxyServer } from 'http-proxy-3';

export type AttemptOutcome =
  | { kind: 'response'; status: number; headersMs: number; retryAfter: string | undefined }
  | { kind: 'error'; code: string; message: string; connected: boolean; timedOut: boolean }
  | { kind: 'client-gone' };

interface Attempt {
  proxyReq?: ClientRequest;
  connectTimeoutMs: number;
  connected: boolean;
  started: number;
  settle(outcome: AttemptOutcome): void;
}

export interface AttemptOptions {
  /** How long connecting may take; past it the attempt fails as never sent (and may go elsewhere). */
  connectTimeoutMs: number;
  /** How long the server may take to send response headers before the client gets 504. */
  responseTimeoutMs: number;
}

export class Forwarder {
  readonly agent = new Agent({ keepAlive: true, maxFreeSockets: 1024, scheduling: 'lifo', timeout: 30_000 });
  private readonly proxy: ProxyServer;
  private readonly attempts = new WeakMap<IncomingMessage, Attempt>();

  constructor() {
    this.proxy = createProxyServer({ agent: this.agent, xfwd: false, ws: false });
    this.proxy.on('proxyReq', (proxyReq, req) => {
      const attempt = this.attempts.get(req);
      if (!attempt) return;
      attempt.proxyReq = proxyReq;
      // A reused keep-alive socket is already connected; a new one connects later.
      const socket = proxyReq.socket;
      if (socket && !socket.connecting) attempt.connected = true;
      else {
        const connectTimer = setTimeout(() => {
          attempt.settle({ kind: 'error', code: 'ECONNTIMEOUT', message: `no connection within ${attempt.connectTimeoutMs} ms`, connected: false, timedOut: false });
          proxyReq.destroy();
        }, attempt.connectTimeoutMs);
        socket?.once('connect', () => { attempt.connected = true; clearTimeout(connectTimer); });
        socket?.once('close', () => clearTimeout(connectTimer));
      }
    });
    this.proxy.on('proxyRes', (proxyRes, req, res) => {
      // A backend that dies mid-body must not leave the client waiting for the rest.
      proxyRes.once('close', () => { if (!proxyRes.complete) res.destroy(); });
      const attempt = this.attempts.get(req);
      const retryAfter = proxyRes.headers['retry-after'];
      attempt?.settle({ kind: 'response', status: proxyRes.statusCode ?? 0, headersMs: performance.now() - attempt.started, retryAfter });
    });
    // http-proxy-3 reports a reset after the client left here instead of to the callback.
    this.proxy.on('econnreset', (_err, req) => this.attempts.get(req)?.settle({ kind: 'client-gone' }));
  }

  /**
   * Forwards `req` to `target` (an origin). `body` replays a buffered request body;
   * without it the request stream itself is sent, so the attempt cannot be repeated.
   */
  forward(req: IncomingMessage, res: ServerResponse, target: string, options: AttemptOptions, headers: Record<string, string>, body?: Buffer): Promise<AttemptOutcome> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const onClose = () => attempt.settle({ kind: 'client-gone' });
      const attempt: Attempt = {
        connectTimeoutMs: options.connectTimeoutMs,
        connected: false,
        started: performance.now(),
        settle: (outcome) => {
          if (this.attempts.get(req) !== attempt) return;
          this.attempts.delete(req);
          clearTimeout(timer);
          res.off('close', onClose);
          resolve(outcome);
        },
      };
      this.attempts.set(req, attempt);
      res.once('close', onClose);
      timer = setTimeout(() => {
        attempt.settle({ kind: 'error', code: 'ETIMEDOUT', message: `no response within ${options.responseTimeoutMs} ms`, connected: attempt.connected, timedOut: true });
        attempt.proxyReq?.destroy();
      }, options.responseTimeoutMs);

      this.proxy.web(req, res, { target, headers, buffer: body ? Readable.from([body]) : undefined }, (err: NodeJS.ErrnoException) => {
        attempt.settle({ kind: 'error', code: err.code ?? 'EUNKNOWN', message: err.message, connected: attempt.connected, timedOut: false });
      });
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
