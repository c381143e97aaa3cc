/** What `portico` prints once it is ready: where each route answers, HTTPS, and the admin endpoints. */
import type { PorticoConfig } from '../lib/config/load.js';
import type { ReadyMessage } from '../lib/ipc.js';

/** A listen host as a URL host: every address → 127.0.0.1, IPv6 in brackets. */
function urlHost(host: string | undefined): string {
  if (host === undefined || host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/** The lines, each "URL  what", aligned. */
export function bannerOf(ready: ReadyMessage, config: PorticoConfig): string {
  const http = `http://${urlHost(config.listen.http.host)}:${ready.http}`;
  const admin = `http://${urlHost(config.listen.admin.host)}:${ready.admin}`;
  const rows: Array<[string, string]> = [];
  for (const route of config.routes) {
    const hosts = route.host ? ` (Host: ${route.host.join(', ')})` : '';
    const target = route.static !== undefined ? `static files from ${route.static}` : `upstream ${route.upstream}`;
    rows.push([`${http}${route.path}`, `route ${route.name}: ${target}${hosts}`]);
    // The local pool's inference API, when a route hands /api/foo to it unchanged.
    const pooled = route.upstream === config.pool.upstream && config.pool.processes > 0 && !route.strip_prefix && route.replace_prefix === undefined;
    if (pooled && '/api/foo'.startsWith(route.path)) rows.push([`${http}/api/foo?val=1000`, 'the inference API']);
  }
  if (ready.https) rows.push([`https://${urlHost(config.listen.https.host)}:${ready.https}/`, `the same over HTTPS${config.tls?.auto ? ' (self-signed development certificate)' : ''}`]);
  rows.push([`${admin}/metrics`, 'Prometheus metrics'], [`${admin}/status`, 'pool status']);
  const width = Math.max(...rows.map(([url]) => url.length)) + 2;
  return `\nPortico is serving:\n${rows.map(([url, what]) => `  ${url.padEnd(width)}${what}\n`).join('')}\n`;
}
