/**
 * TLS to https:// upstream servers: verification on unless `verify: false`,
 * against the configured CA file (or the system's), with the configured SNI
 * name, and a client certificate when the server wants one (mTLS).
 */
import { createHash } from 'node:crypto';
import { Agent, fetch as undiciFetch } from 'undici';
import type { UpstreamTls } from '../../lib/config/load.js';

/** undici `connect` options for `tls` (empty for plain HTTP or the defaults). */
export function connectOptions(tls: UpstreamTls | undefined): Record<string, unknown> {
  if (!tls) return {};
  return {
    ...(tls.ca !== undefined && { ca: tls.ca }),
    ...(tls.cert !== undefined && { cert: tls.cert, key: tls.key }),
    ...(tls.servername !== undefined && { servername: tls.servername }),
    rejectUnauthorized: tls.rejectUnauthorized,
  };
}

/** Identifies equal settings across reloads (the objects are new each time), so connection pools are shared. */
export function tlsIdentity(tls: UpstreamTls | undefined): string {
  return tls ? createHash('sha256').update(JSON.stringify(tls)).digest('base64url').slice(0, 16) : '';
}

const agents = new Map<string, Agent>();

/** A GET for health checks that honours `tls` for https:// servers (global fetch for plain HTTP). */
export function fetchWithTls(url: string, tls: UpstreamTls | undefined, init: { signal: AbortSignal; headers: Record<string, string> }): Promise<{ ok: boolean; status: number; text(): Promise<string> }> {
  if (!url.startsWith('https:') || !tls) return fetch(url, init);
  const id = tlsIdentity(tls);
  let agent = agents.get(id);
  if (!agent) {
    agent = new Agent({ connect: connectOptions(tls) });
    agents.set(id, agent);
  }
  return undiciFetch(url, { ...init, dispatcher: agent });
}
