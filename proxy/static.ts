/**
 * Serves files from a route's `static` directory (nginx `alias` semantics: the
 * route's prefix is stripped). GET and HEAD only, no dotfiles, nothing outside
 * the directory, conditional requests answered with 304.
 */
import { createReadStream, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, sep } from 'node:path';
import { sendProblem } from './respond.js';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png',
  '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif', '.webp': 'image/webp', '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8', '.map': 'application/json', '.woff2': 'font/woff2', '.wasm': 'application/wasm',
};

/**
 * Answers `req` from `root`; `prefix` is the route path the request matched.
 * @example await serveStatic(req, res, '/srv/static', '/', '/index.html')
 */
export async function serveStatic(req: IncomingMessage, res: ServerResponse, root: string, prefix: string, pathname: string): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return sendProblem(res, 405, `static files answer GET and HEAD, not ${req.method}`);
  }
  let relative: string;
  try {
    relative = decodeURIComponent(pathname.slice(prefix.endsWith('/') ? prefix.length - 1 : prefix.length));
  } catch {
    return sendProblem(res, 400, 'the path is not valid percent-encoding');
  }
  if (relative.includes('\0') || relative.split('/').some((part) => part.startsWith('.'))) {
    return sendProblem(res, 404, `not found: ${pathname}`);
  }
  let file = join(root, relative);
  if (file !== root && !file.startsWith(root + sep)) return sendProblem(res, 404, `not found: ${pathname}`);

  let info = await statOrUndefined(file);
  if (info?.isDirectory()) {
    if (!pathname.endsWith('/')) {
      res.writeHead(301, { Location: `${pathname}/`, 'Content-Length': 0 });
      return void res.end();
    }
    file = join(file, 'index.html');
    info = await statOrUndefined(file);
  }
  if (!info?.isFile()) return sendProblem(res, 404, `not found: ${pathname}`);

  const etag = `W/"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
  const lastModified = info.mtime.toUTCString();
  const headers = {
    'Content-Type': CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
    ETag: etag,
    'Last-Modified': lastModified,
    'Cache-Control': 'no-cache',
    'X-Content-Type-Options': 'nosniff',
  };
  if (notModified(req, etag, info)) {
    res.writeHead(304, headers);
    return void res.end();
  }
  res.writeHead(200, { ...headers, 'Content-Length': info.size });
  if (req.method === 'HEAD') return void res.end();
  await new Promise<void>((resolve) => {
    const stream = createReadStream(file);
    stream.on('error', () => res.destroy());
    res.on('close', () => { stream.destroy(); resolve(); });
    stream.pipe(res);
  });
}

/** RFC 9110 §13.1: If-None-Match wins over If-Modified-Since. */
function notModified(req: IncomingMessage, etag: string, info: Stats): boolean {
  const inm = req.headers['if-none-match'];
  if (inm !== undefined) {
    const strip = (tag: string) => tag.trim().replace(/^W\//, '');
    return inm.trim() === '*' || inm.split(',').some((tag) => strip(tag) === strip(etag));
  }
  const ims = Date.parse(req.headers['if-modified-since'] ?? '');
  return !Number.isNaN(ims) && Math.floor(info.mtimeMs / 1000) * 1000 <= ims;
}

async function statOrUndefined(file: string): Promise<Stats | undefined> {
  try {
    return await stat(file);
  } catch {
    return undefined;
  }
}
