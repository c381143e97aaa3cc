/**
 * What an admin purge names: `POST /cache/purge` with {"url": ...} (one URL,
 * absolute or a path) or {"prefix": "/api/"} (optionally with "host"), or
 * `PURGE /path` on the admin listener (a trailing "*" makes it a prefix).
 */

export interface PurgeMatch {
  target?: string;
  prefix?: string;
  host?: string;
}

/**
 * @returns the match, or a message saying what to fix.
 * @example parsePurgeBody('{"prefix": "/api/"}') // { prefix: '/api/' }
 */
export function parsePurgeBody(text: string): PurgeMatch | string {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    return `the body is not valid JSON (${(err as Error).message}); send {"url": "/path?query"} or {"prefix": "/path/"}`;
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'send a JSON object: {"url": "/path?query"} or {"prefix": "/path/"}';
  const { url, prefix, host, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) return `unknown field "${unknown[0]}": use "url", "prefix" and optionally "host"`;
  if ((url === undefined) === (prefix === undefined)) return 'give exactly one of "url" (one URL) and "prefix" (every URL under a path)';
  if (host !== undefined && (typeof host !== 'string' || host === '')) return '"host" must be a non-empty string such as "example.com:8080"';
  if (prefix !== undefined) {
    if (typeof prefix !== 'string' || !prefix.startsWith('/')) return '"prefix" must be a path starting with "/"';
    return { prefix, ...(host !== undefined && { host: host as string }) };
  }
  if (typeof url !== 'string' || url === '') return '"url" must be a path ("/api/foo?val=1") or an absolute URL';
  if (url.startsWith('/')) return { target: url, ...(host !== undefined && { host: host as string }) };
  try {
    const parsed = new URL(url);
    return { target: parsed.pathname + parsed.search, host: (host as string | undefined) ?? parsed.host };
  } catch {
    return `"${url}" is neither a path starting with "/" nor an absolute URL`;
  }
}

/** `PURGE /api/foo?val=1` → that target; `PURGE /api/*` → the prefix /api/. */
export function purgeMatchOfTarget(target: string): PurgeMatch {
  return target.endsWith('*') ? { prefix: target.slice(0, -1) } : { target };
}
