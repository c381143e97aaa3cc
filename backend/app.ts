/**
 * The inference backend's HTTP API (Hono): /api/foo, /healthz, /readyz, /metrics.
 * Errors are problem+json; a full backend answers 503 + Retry-After (back-pressure).
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Tracer } from '@opentelemetry/api';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { GIVE_BACK_OFFER, NOT_STARTED } from '../lib/give-back.js';
import { problem, PROBLEM_CONTENT_TYPE } from '../lib/problem.js';
import { CoreError, FOO_MAX_VAL, FOO_MIN_VAL, type Core } from './core.js';
import type { BackendMetrics } from './metrics.js';
import { CallTimes } from './call-times.js';
import { AbandonedError, NotStartedError, type Slots, SlotsFullError } from './slots.js';
import { isTraced, RequestTrace } from './trace.js';
import { parseValBody, parseValParam, type ValResult } from './val.js';

/** JSON bodies for POST /api/foo are tiny; anything larger is a mistake or an attack. */
export const MAX_BODY_BYTES = 1024;

export interface BackendState {
  draining: boolean;
}

/** Only known routes become metric labels; anything else is "other". */
const ROUTES: Record<string, string> = { '/api/foo': 'foo', '/healthz': 'healthz', '/readyz': 'readyz', '/metrics': 'metrics' };

type Env = { Variables: { trace: RequestTrace | undefined } };

export function createApp(core: Core, slots: Slots, metrics: BackendMetrics, state: BackendState, cacheMaxAge = 3600, tracer?: Tracer): Hono<Env> {
  const app = new Hono<Env>();
  // A result is a pure function of val: caches may keep it (the proxy's route cache, a CDN, the browser).
  const resultCacheControl = cacheMaxAge > 0 ? `public, max-age=${cacheMaxAge}` : 'no-store';
  const callTimes = new CallTimes();

  app.use(async (c, next) => {
    const started = performance.now();
    const traced = tracer && isTraced(c.req.path) ? new RequestTrace(tracer, c.req.method, c.req.path, incomingHeaders(c)) : undefined;
    c.set('trace', traced);
    await next();
    traced?.end(c.res.status);
    const route = ROUTES[c.req.path] ?? 'other';
    metrics.requests.inc({ route, method: c.req.method, code: String(c.res.status) });
    metrics.requestDuration.observe({ route }, (performance.now() - started) / 1000);
  });

  app.get('/healthz', (c) => c.json({ status: 'ok', pid: process.pid }));
  app.get('/readyz', (c) => {
    const body = { status: state.draining ? 'draining' : 'ready', pid: process.pid, core: core.version, ...slots.stats() };
    return c.json(body, state.draining ? 503 : 200);
  });
  app.get('/metrics', async (c) => {
    c.header('Content-Type', metrics.registry.contentType);
    return c.body(await metrics.registry.metrics());
  });

  app.get('/api/foo', (c) => compute(c, parseValParam(c.req.queries('val'))));
  app.post(
    '/api/foo',
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) => send(c, 413, `the body is larger than ${MAX_BODY_BYTES} bytes; send {"val": N}`),
    }),
    async (c) => {
      const type = c.req.header('content-type') ?? '';
      if (!/^application\/json\s*(;|$)/i.test(type)) {
        return send(c, 415, `send the body as Content-Type: application/json, not "${type || 'none'}"`);
      }
      let body: unknown;
      try {
        body = JSON.parse(await c.req.text());
      } catch (err) {
        return send(c, 400, `the body is not valid JSON (${(err as Error).message}); send {"val": N}`);
      }
      return compute(c, parseValBody(body));
    },
  );
  app.all('/api/foo', (c) => {
    c.header('Allow', 'GET, POST');
    return send(c, 405, `use GET /api/foo?val=N or POST /api/foo with {"val": N}, not ${c.req.method}`);
  });
  app.notFound((c) => send(c, 404, `no such endpoint: ${c.req.path}; try GET /api/foo?val=1000`));
  app.onError((err, c) => send(c, 500, `internal error: ${err.message}`));

  async function compute(c: Context<Env>, input: ValResult): Promise<Response> {
    const traced = c.get('trace');
    if (!input.ok) return send(c, 400, input.detail, { min: FOO_MIN_VAL, max: FOO_MAX_VAL });
    const queuedAt = performance.now();
    let release: () => void;
    try {
      // Only a proxy that offers to re-send it gets a request back: any other client would just see a 503.
      const overdueAfterMs = c.req.header(GIVE_BACK_OFFER) === undefined ? undefined : callTimes.overdueAfterMs();
      release = await slots.acquire(c.req.raw.signal, overdueAfterMs);
    } catch (err) {
      if (err instanceof NotStartedError) {
        traced?.slotWait(queuedAt, 'given_back');
        metrics.givenBack.inc();
        return c.body(JSON.stringify(problem(503, `${err.message}; given back to the proxy to send to a free server`)), 503, {
          'Content-Type': PROBLEM_CONTENT_TYPE, 'Cache-Control': 'no-store', [NOT_STARTED]: String(Math.round(err.waitedMs)),
        });
      }
      if (err instanceof SlotsFullError) {
        traced?.slotWait(queuedAt, 'queue_full');
        metrics.shed.inc({ reason: 'queue_full' });
        c.header('Retry-After', '1');
        return send(c, 503, `this backend is busy (${slots.slots} slots, ${slots.queueSize} queued); retry after 1 s`);
      }
      if (err instanceof AbandonedError) {
        traced?.slotWait(queuedAt, 'client_gone');
        metrics.shed.inc({ reason: 'client_gone' });
        return send(c, 499, 'the client closed the connection while the request was queued');
      }
      throw err;
    }
    const started = performance.now();
    metrics.queueWait.observe((started - queuedAt) / 1000);
    traced?.slotWait(queuedAt, 'acquired');
    try {
      const result = await core.foo(input.val);
      traced?.nativeCall(started, input.val);
      const ms = performance.now() - started;
      callTimes.record(ms);
      metrics.nativeCallDuration.observe({ op: 'foo' }, ms / 1000);
      c.header('Cache-Control', resultCacheControl);
      return c.json({ val: input.val, result, ms: Math.round(ms * 1000) / 1000, pid: process.pid });
    } catch (err) {
      traced?.nativeCall(started, input.val, (err as Error).message);
      if (!(err instanceof CoreError)) throw err;
      metrics.nativeCallErrors.inc({ op: 'foo', code: String(err.code) });
      return send(c, 400, `the core refused val ${input.val}: ${err.message}`);
    } finally {
      release();
    }
  }

  return app;
}

/** The request's headers as node:http has them (the W3C propagator reads traceparent and tracestate). */
function incomingHeaders(c: Context<Env>): IncomingHttpHeaders {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  return incoming?.headers ?? { traceparent: c.req.header('traceparent'), tracestate: c.req.header('tracestate') };
}

function send(c: Context<Env>, status: number, detail: string, extensions?: Record<string, unknown>): Response {
  return c.body(JSON.stringify(problem(status, detail, extensions)), status as 400, { 'Content-Type': PROBLEM_CONTENT_TYPE, 'Cache-Control': 'no-store' });
}
