/**
 * The admin listener (loopback by default): GET /metrics, /healthz, /readyz,
 * /metrics/all (every hop merged), /status, /targets (Prometheus service discovery),
 * and POST /reload, /pool/restart, /proxy/restart and /cache/purge (or PURGE /path). A mutating endpoint needs `Authorization: Bearer
 * <admin_token>` whenever a token is configured (and the config refuses an
 * admin listener beyond loopback without one).
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { mergeExpositions } from './metrics-all.js';
import { parsePurgeBody, purgeMatchOfTarget, type PurgeMatch } from '../cache/purge.js';
import { sendProblem } from '../request/respond.js';

export interface AdminSources {
  registry: Registry;
  /** The proxy's exposition: its registry's, or every worker's labelled by worker. */
  metricsText: () => Promise<string>;
  ready: () => boolean;
  status: () => unknown;
  /** Reloads the config file; resolves to the error message when the new file was refused. */
  reload: () => Promise<string | undefined>;
  /** The servers whose /metrics GET /metrics/all merges. */
  backends: () => string[];
  /** Prometheus HTTP service discovery groups; `self` is host:port of this listener as the client reached it. */
  targets: (self: string) => unknown;
  /** Asks the master to replace the pool's backends one by one; false when no master supervises a pool. */
  restartPool: () => boolean;
  /** Asks the master to replace the proxy processes on the same sockets; false when no master holds them. */
  restartProxy: () => boolean;
  token: () => string | undefined;
  /** Drops stored responses; returns how many. */
  purgeCache: (match: PurgeMatch) => number;
}

/** A purge request's body is a small JSON object. */
const MAX_PURGE_BODY = 4096;

export function createAdminServer(sources: AdminSources): Server {
  return createServer((req, res) => {
    handleAdmin(req, res, sources).catch((err: Error) => sendProblem(res, 500, `admin error: ${err.message}`));
  });
}

const READS = new Set(['/metrics', '/metrics/all', '/healthz', '/readyz', '/status', '/targets']);
const WRITES = new Set(['/reload', '/pool/restart', '/proxy/restart', '/cache/purge']);

/** Open even with a token: liveness and readiness probes cannot always send one (Kubernetes httpGet). */
const PROBES = new Set(['/healthz', '/readyz']);

async function handleAdmin(req: IncomingMessage, res: ServerResponse, sources: AdminSources): Promise<void> {
  const path = (req.url ?? '/').split('?', 1)[0]!;
  if (!PROBES.has(path) && !authorised(req, sources.token())) return unauthorised(res, req.method === 'PURGE' ? 'PURGE' : path);
  if (req.method === 'PURGE') return json(res, 200, { purged: sources.purgeCache(purgeMatchOfTarget(req.url ?? '/')) });
  if (WRITES.has(path)) {
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      return sendProblem(res, 405, `${path} takes POST, not ${req.method}`);
    }
    if (path === '/cache/purge') return purge(req, res, sources);
    if (path === '/pool/restart') {
      if (!sources.restartPool()) return sendProblem(res, 409, 'no supervised pool to restart: this proxy runs without a master');
      return json(res, 202, { status: 'restarting', detail: 'backends are replaced one at a time; watch /status' });
    }
    if (path === '/proxy/restart') {
      if (!sources.restartProxy()) return sendProblem(res, 409, 'no master holds this proxy\'s sockets: run it with `portico` (not `portico proxy`) to restart it without downtime');
      return json(res, 202, { status: 'restarting', detail: 'new proxy processes start on the same sockets, then the old ones drain; watch /status' });
    }
    const error = await sources.reload();
    if (error) return sendProblem(res, 422, `the config file was refused; the running config is unchanged:\n${error}`);
    return json(res, 200, { status: 'reloaded' });
  }
  if (!READS.has(path)) return sendProblem(res, 404, `no admin endpoint ${path}; try /metrics, /healthz, /readyz, /status, POST /reload, POST /pool/restart, POST /proxy/restart or POST /cache/purge`);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return sendProblem(res, 405, `${path} answers GET, not ${req.method}`);
  }
  switch (path) {
    case '/metrics': {
      const text = await sources.metricsText();
      res.writeHead(200, { 'Content-Type': sources.registry.contentType });
      return void res.end(text);
    }
    case '/metrics/all': {
      const text = await allMetrics(sources);
      res.writeHead(200, { 'Content-Type': sources.registry.contentType });
      return void res.end(text);
    }
    case '/healthz':
      return json(res, 200, { status: 'ok', pid: process.pid });
    case '/readyz': {
      const ready = sources.ready();
      return json(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', pid: process.pid });
    }
    case '/targets': {
      const local = req.socket.localAddress ?? '127.0.0.1';
      const self = req.headers.host ?? `${local.includes(':') ? `[${local}]` : local}:${req.socket.localPort}`;
      return json(res, 200, sources.targets(self));
    }
    default:
      return json(res, 200, await sources.status());
  }
}

/** The proxy's registry and every backend's, merged; a backend that does not answer in 2 s is marked 0. */
async function allMetrics(sources: AdminSources): Promise<string> {
  const servers = sources.backends();
  const backends = await Promise.all(servers.map(async (server) => {
    try {
      const res = await fetch(`${server}/metrics`, { signal: AbortSignal.timeout(2000) });
      return res.ok ? await res.text() : undefined;
    } catch {
      return undefined;
    }
  }));
  const up = ['# HELP portico_aggregate_target_up 1 when the backend answered its /metrics for this merged view.', '# TYPE portico_aggregate_target_up gauge',
    ...servers.map((server, i) => `portico_aggregate_target_up{server="${server}"} ${backends[i] === undefined ? 0 : 1}`)].join('\n');
  return mergeExpositions([
    { text: await sources.metricsText(), labels: { hop: 'proxy' } },
    ...servers.flatMap((server, i) => (backends[i] === undefined ? [] : [{ text: backends[i]!, labels: { hop: 'backend', server } }])),
    { text: up, labels: {} },
  ]);
}

async function purge(req: IncomingMessage, res: ServerResponse, sources: AdminSources): Promise<void> {
  if (!/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) {
    return sendProblem(res, 415, 'send the purge as Content-Type: application/json: {"url": "/path?query"} or {"prefix": "/path/"}');
  }
  let text = '';
  for await (const chunk of req) {
    text += String(chunk);
    if (text.length > MAX_PURGE_BODY) return sendProblem(res, 413, `a purge body is at most ${MAX_PURGE_BODY} bytes`);
  }
  const match = parsePurgeBody(text);
  if (typeof match === 'string') return sendProblem(res, 400, match);
  return json(res, 200, { purged: sources.purgeCache(match) });
}

function unauthorised(res: ServerResponse, what: string): void {
  res.setHeader('WWW-Authenticate', 'Bearer realm="portico-admin"');
  sendProblem(res, 401, `${what} needs Authorization: Bearer <admin_token>`);
}

function authorised(req: IncomingMessage, token: string | undefined): boolean {
  if (token === undefined) return true; // loopback only: the config refuses anything else without a token
  const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
