/**
 * Serves files from a route's `static` directory (nginx `alias` semantics: the
 * route's prefix is stripped). GET and HEAD only; no dotfiles, nothing outside
 * the directory, symlinks included; conditional requests (304), single byte
 * ranges (206), and precompressed `.br`/`.gz` siblings chosen by Accept-Encoding.
 */
import { createReadStream, type Stats } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, sep } from 'node:path';
import { contentTypeOf } from './content-type.js';
import { parseRange } from './range.js';
import { sendProblem } from './respond.js';

/** Precompressed siblings, preferred in this order when the client accepts them. */
const ENCODINGS = [['br', '.br'], ['gzip', '.gz']] as const;

/**
 * Answers `req` from `root`; `prefix` is the route path the request matched.
 * @example await serveStatic(req, res, '/srv/static', '/', '/index.html')
 */
export async function serveStatic(
  req: IncomingMessage, res: ServerResponse, root: string, prefix: string, pathname: string,
  cacheRules: ReadonlyArray<{ match: string; value: string }> = [],
): Promise<void> {
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
  if (relative.includes('\0')) return sendProblem(res, 400, 'the path contains a NUL byte');
  if (relative.split('/').some((part) => part.startsWith('.'))) return sendProblem(res, 404, `not found: ${pathname}`);

  const found = await findFile(root, relative, pathname);
  if (found === 'redirect') {
    res.writeHead(301, { Location: `${pathname}/`, 'Content-Length': 0 });
    return void res.end();
  }
  if (!found) return sendProblem(res, 404, `not found: ${pathname}`);

  const type = contentTypeOf(extname(found.file).toLowerCase());
  const variant = await precompressed(found.file, req.headers['accept-encoding']);
  const file = variant?.file ?? found.file;
  const info = variant?.info ?? found.info;
  const etag = `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}${variant ? `-${variant.encoding}` : ''}"`;
  const headers: Record<string, string | number> = {
    'Content-Type': type, ETag: etag, 'Last-Modified': info.mtime.toUTCString(), 'Cache-Control': cacheControlFor(pathname, cacheRules),
    'Accept-Ranges': 'bytes', 'X-Content-Type-Options': 'nosniff', Vary: 'Accept-Encoding',
  };
  if (variant) headers['Content-Encoding'] = variant.encoding;
  if (notModified(req, etag, info)) {
    res.writeHead(304, headers);
    return void res.end();
  }
  const ifRange = req.headers['if-range'];
  const range = ifRange === undefined || ifRange === etag || ifRange === headers['Last-Modified'] ? parseRange(req.headers.range, info.size) : { kind: 'full' as const };
  if (range.kind === 'unsatisfiable') {
    res.writeHead(416, { ...headers, 'Content-Range': `bytes */${info.size}`, 'Content-Length': 0 });
    return void res.end();
  }
  const [start, end] = range.kind === 'partial' ? [range.start, range.end] : [0, info.size - 1];
  if (range.kind === 'partial') headers['Content-Range'] = `bytes ${start}-${end}/${info.size}`;
  res.writeHead(range.kind === 'partial' ? 206 : 200, { ...headers, 'Content-Length': Math.max(0, end - start + 1) });
  if (req.method === 'HEAD' || info.size === 0) return void res.end();
  await new Promise<void>((resolve) => {
    const stream = createReadStream(file, { start, end });
    stream.on('error', () => res.destroy());
    res.on('close', () => { stream.destroy(); resolve(); });
    stream.pipe(res);
  });
}

/** The first rule matching the request path: "/dir/" as a prefix, "*.ext" as a suffix, else exact; default revalidate. */
export function cacheControlFor(pathname: string, rules: ReadonlyArray<{ match: string; value: string }>): string {
  const rule = rules.find(({ match }) => (match.startsWith('*') ? pathname.endsWith(match.slice(1)) : match.endsWith('/') ? pathname.startsWith(match) : pathname === match));
  return rule?.value ?? 'no-cache';
}

/** The file for `relative` (index.html for a directory), refusing anything whose real path leaves the root. */
async function findFile(root: string, relative: string, pathname: string): Promise<{ file: string; info: Stats } | 'redirect' | undefined> {
  let file = join(root, relative);
  let info = await statOrUndefined(file);
  if (info?.isDirectory()) {
    if (!pathname.endsWith('/')) return 'redirect';
    file = join(file, 'index.html');
    info = await statOrUndefined(file);
  }
  if (!info?.isFile()) return undefined;
  // A symlink may point anywhere: what counts is where the file really is.
  const [real, realRoot] = await Promise.all([realpath(file), realpath(root)]);
  return real.startsWith(realRoot + sep) ? { file, info } : undefined;
}

/** A `.br` or `.gz` sibling the client accepts (q > 0), br first. */
async function precompressed(file: string, acceptEncoding: string | string[] | undefined): Promise<{ file: string; info: Stats; encoding: string } | undefined> {
  const accepted = new Map<string, number>();
  for (const part of String(acceptEncoding ?? '').split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => /^\s*q=([\d.]+)/.exec(p)?.[1]).find(Boolean);
    if (name) accepted.set(name, q === undefined ? 1 : Number(q));
  }
  for (const [encoding, suffix] of ENCODINGS) {
    if (!(accepted.get(encoding)! > 0)) continue;
    const info = await statOrUndefined(file + suffix);
    if (info?.isFile()) return { file: file + suffix, info, encoding };
  }
  return undefined;
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
