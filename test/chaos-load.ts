/**
 * The load that runs through every fault of the chaos suite: closed-loop
 * clients on keep-alive connections, some sending GET (idempotent) and some
 * POST (not), counting every answer and every client-visible error with the
 * time it happened, so that a scenario can say what failed and for how long.
 */
import { Agent, request } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface Tally {
  sent: number;
  ok: number;
  /** Client-visible failures by method and status code or error code ("502", "ECONNREFUSED"). */
  failed: Record<'GET' | 'POST', Record<string, number>>;
  /** When failures began and ended (ms since the load started); undefined when nothing failed. */
  firstFailureMs?: number;
  lastFailureMs?: number;
  /** Milliseconds from the first failure to the next success after the last one: how long clients saw an outage. */
  outageMs: number;
}

export interface LoadHandle {
  stop(): Promise<Tally>;
}

export function failedCount(tally: Tally, method?: 'GET' | 'POST'): number {
  const methods: Array<'GET' | 'POST'> = method ? [method] : ['GET', 'POST'];
  let n = 0;
  for (const m of methods) for (const count of Object.values(tally.failed[m])) n += count;
  return n;
}

/**
 * Starts `getClients` + `postClients` closed-loop clients against `base` (an
 * origin), calling `path` (GET ?val= or POST {"val"}) until stop().
 */
export function startLoad(base: string, options: { getClients: number; postClients: number; val?: number }): LoadHandle {
  const url = new URL(base);
  const secure = url.protocol === 'https:';
  const agent = secure ? new HttpsAgent({ keepAlive: true, rejectUnauthorized: false }) : new Agent({ keepAlive: true });
  const started = performance.now();
  const tally: Tally = { sent: 0, ok: 0, failed: { GET: {}, POST: {} }, outageMs: 0 };
  let lastSuccessAfterFailure: number | undefined;
  let running = true;
  const val = options.val ?? 100;

  const once = (method: 'GET' | 'POST') => new Promise<void>((resolve) => {
    const body = method === 'POST' ? JSON.stringify({ val }) : undefined;
    const send = secure ? httpsRequest : request;
    const req = send({
      host: url.hostname, port: url.port, method, agent, path: method === 'GET' ? `/api/foo?val=${val}` : '/api/foo',
      headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {},
      timeout: 10_000,
    }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode === 200) record(method, undefined);
        else record(method, String(res.statusCode));
        resolve();
      });
      res.on('error', () => { record(method, 'ECONNRESET'); resolve(); });
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('client timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => { record(method, err.code ?? 'ERROR'); resolve(); });
    req.end(body);
  });

  function record(method: 'GET' | 'POST', failure: string | undefined): void {
    const now = performance.now() - started;
    tally.sent++;
    if (failure === undefined) {
      tally.ok++;
      if (tally.lastFailureMs !== undefined && (lastSuccessAfterFailure === undefined || lastSuccessAfterFailure < tally.lastFailureMs)) lastSuccessAfterFailure = now;
      return;
    }
    tally.failed[method][failure] = (tally.failed[method][failure] ?? 0) + 1;
    tally.firstFailureMs ??= now;
    tally.lastFailureMs = now;
  }

  const client = async (method: 'GET' | 'POST') => {
    while (running) {
      const before = tally.sent - tally.ok;
      await once(method);
      // After a failure, pause a little: a client in a tight loop against a refused port would only burn the CPU the proxy needs.
      if (tally.sent - tally.ok > before) await new Promise((r) => setTimeout(r, 20));
    }
  };
  const clients = [
    ...Array.from({ length: options.getClients }, () => client('GET')),
    ...Array.from({ length: options.postClients }, () => client('POST')),
  ];
  return {
    async stop() {
      running = false;
      await Promise.all(clients);
      agent.destroy();
      if (tally.firstFailureMs !== undefined) tally.outageMs = (lastSuccessAfterFailure ?? performance.now() - started) - tally.firstFailureMs;
      return tally;
    },
  };
}
