/**
 * Minimal pass-through proxies, one per candidate hot path, for bench/hot-path.ts:
 *   node dist/bench/hot-path-proxy.js KIND LISTEN_PORT ORIGIN_PORT
 * (and `memory`, which answers the cache bench's bytes itself).
 * Each forwards every request to the origin over keep-alive connections and
 * streams the response back; nothing else, so the figures compare the paths.
 */
import { Agent, createServer, request } from 'node:http';
import { createProxyServer } from 'http-proxy-3';
import { Pool } from 'undici';
import { CACHED_BODY, CACHED_HEADERS } from './cache-hit.js';

const [kind, listenPort, originPort] = process.argv.slice(2);
const origin = `http://127.0.0.1:${originPort}`;
const agent = new Agent({ keepAlive: true, maxSockets: 256 });

const handlers: Record<string, Parameters<typeof createServer>[1]> = {
  // Not a proxy: the ceiling for a cache hit (bench/cache-hit.ts), Portico's answer to a hit field for field, from memory
  // (a constant request id of the same length). Measured: as cheap as the two fields and chunked body it sent before.
  memory: (() => {
    const head = [...Object.entries(CACHED_HEADERS).flat(), 'x-request-id', '00000000-0000-4000-8000-000000000000', 'age', '0', 'x-cache', 'HIT', 'content-length', String(Buffer.byteLength(CACHED_BODY))];
    return (_req, res) => res.writeHead(200, head).end(CACHED_BODY);
  })(),
  'http-proxy-3': (() => {
    const proxy = createProxyServer({ target: origin, agent });
    return (req, res) => proxy.web(req, res, {}, () => res.writeHead(502).end());
  })(),
  'node-http-request': (req, res) => {
    const upstream = request({ host: '127.0.0.1', port: originPort, method: req.method, path: req.url, headers: req.headers, agent }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  },
  'undici-pool': (() => {
    const pool = new Pool(origin, { connections: 256, pipelining: 1 });
    return (req, res) => {
      pool.request({ method: req.method as 'GET', path: req.url ?? '/', headers: req.headers as Record<string, string>, body: req.method === 'GET' || req.method === 'HEAD' ? null : req })
        .then(({ statusCode, headers, body }) => {
          res.writeHead(statusCode, headers as Record<string, string>);
          body.pipe(res);
        }, () => res.writeHead(502).end());
    };
  })(),
  // Experiment: undici's stream API: the body is written into the response (no Readable in between).
  'undici-stream': (() => {
    const pool = new Pool(origin, { connections: 256, pipelining: 1 });
    return (req, res) => {
      pool.stream({ method: req.method as 'GET', path: req.url ?? '/', headers: req.headers as Record<string, string>, body: null, opaque: res }, ({ statusCode, headers }) => {
        res.writeHead(statusCode, headers as Record<string, string>);
        return res;
      }).catch(() => { if (!res.headersSent) res.writeHead(502); res.end(); });
    };
  })(),
  // Experiment: undici's dispatch API, writing straight to the response (no body stream, no promise).
  'undici-dispatch': (() => {
    const pool = new Pool(origin, { connections: 256, pipelining: 1 });
    return (req, res) => {
      pool.dispatch({ method: req.method as 'GET', path: req.url ?? '/', headers: req.headers as Record<string, string>, body: null }, {
        onRequestStart() {},
        onResponseStart(controller, statusCode, headers) {
          res.writeHead(statusCode, headers as Record<string, string>);
          res.on('drain', () => controller.resume());
        },
        onResponseData(controller, chunk) { if (!res.write(chunk)) controller.pause(); },
        onResponseEnd() { res.end(); },
        onResponseError() { if (!res.headersSent) res.writeHead(502); res.end(); },
      });
    };
  })(),
};

const handler = handlers[kind ?? ''];
if (!handler) throw new Error(`unknown kind "${kind}" (known: ${Object.keys(handlers).join(', ')})`);
createServer({ keepAliveTimeout: 60_000 }, handler).listen(Number(listenPort), '127.0.0.1', () => process.send?.('ready'));
