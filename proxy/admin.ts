/**
 * The admin listener (loopback by default): /metrics, /healthz, /readyz, /status.
 * Read-only for now; mutating endpoints come with the bearer-token rule of DESIGN.md.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { sendProblem } from './respond.js';

export interface AdminSources {
  registry: Registry;
  ready: () => boolean;
  status: () => unknown;
}

export function createAdminServer(sources: AdminSources): Server {
  return createServer((req, res) => {
    handleAdmin(req, res, sources).catch((err: Error) => sendProblem(res, 500, `admin error: ${err.message}`));
  });
}

async function handleAdmin(req: IncomingMessage, res: ServerResponse, sources: AdminSources): Promise<void> {
  const path = (req.url ?? '/').split('?', 1)[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return sendProblem(res, 405, `the admin endpoints answer GET, not ${req.method}`);
  }
  switch (path) {
    case '/metrics': {
      const text = await sources.registry.metrics();
      res.writeHead(200, { 'Content-Type': sources.registry.contentType });
      return void res.end(text);
    }
    case '/healthz':
      return json(res, 200, { status: 'ok', pid: process.pid });
    case '/readyz': {
      const ready = sources.ready();
      return json(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', pid: process.pid });
    }
    case '/status':
      return json(res, 200, sources.status());
    default:
      return sendProblem(res, 404, `no admin endpoint ${path}; try /metrics, /healthz, /readyz or /status`);
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
