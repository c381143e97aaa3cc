/**
 * TLS to https:// upstreams, over real TLS: a test CA signs the origin's
 * certificate and the proxy's client certificate; the proxy verifies the
 * origin against the configured CA (and refuses a wrong one) and presents its
 * certificate to an origin that requires one (mTLS). Health checks go over
 * the same TLS settings.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, runProxy, waitUntil, writeConfig, type RunningProxy } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'portico-upstream-tls-'));
let origin: Server;
let originUrl: string;
const running: RunningProxy[] = [];

async function makeCa(name: string) {
  return generate([{ name: 'commonName', value: name }], {
    keyType: 'ec',
    extensions: [{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true }],
  });
}

beforeAll(async () => {
  const ca = await makeCa('Portico Test CA');
  const wrong = await makeCa('Some Other CA');
  const signedBy = (cn: string) => generate([{ name: 'commonName', value: cn }], { keyType: 'ec', algorithm: 'sha256', ca: { key: ca.private, cert: ca.cert } });
  const server = await signedBy('localhost');
  const client = await signedBy('portico-proxy');
  const files: Record<string, string> = { 'ca.pem': ca.cert, 'wrong-ca.pem': wrong.cert, 'client.pem': client.cert, 'client.key': client.private };
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  origin = createServer({ key: server.private, cert: server.cert, ca: ca.cert, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    const peer = (req.socket as import('node:tls').TLSSocket).getPeerCertificate();
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ url: req.url, client: peer?.subject?.CN ?? null, authorized: (req.socket as import('node:tls').TLSSocket).authorized }));
  });
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
  originUrl = `https://127.0.0.1:${(origin.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await Promise.all(running.map((p) => p.proc.stop()));
  origin?.closeAllConnections();
  await new Promise((r) => origin?.close(r));
  rmSync(dir, { recursive: true, force: true });
});

async function proxyWith(tls: string, health = 'health: { path: "" }') {
  const file = writeConfig(`
listen: { http: "127.0.0.1:0", admin: "127.0.0.1:0" }
pool: { processes: 0 }
access_log: false
upstreams:
  secure:
    ${health}
    retries: { attempts: 0 }
    tls: ${tls}
    servers: [ "${originUrl}" ]
routes:
  - { path: /, upstream: secure }
`.replaceAll('DIR', dir));
  const proxy = await runProxy(file);
  running.push(proxy);
  return `http://127.0.0.1:${proxy.port}`;
}

describe('TLS to upstreams', () => {
  it('verifies an https:// server against the configured CA and name, and presents a client certificate', async () => {
    const http = await proxyWith('{ ca: DIR/ca.pem, servername: localhost, cert: DIR/client.pem, key: DIR/client.key }');
    const res = await getJson(`${http}/hello`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ url: '/hello', client: 'portico-proxy', authorized: true });
  });

  it('refuses a server whose certificate the configured CA did not sign, with 502 naming the reason', async () => {
    const http = await proxyWith('{ ca: DIR/wrong-ca.pem, servername: localhost }');
    const res = await getJson(`${http}/hello`);
    expect(res.status).toBe(502);
    expect(res.body.detail).toMatch(/upstream server failed \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|SELF_SIGNED_CERT_IN_CHAIN)\)/);
  });

  it('refuses a certificate for another name', async () => {
    const http = await proxyWith('{ ca: DIR/ca.pem, servername: portico.example }');
    const res = await getJson(`${http}/hello`);
    expect(res.status).toBe(502);
    expect(res.body.detail).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID/);
  });

  it('runs its health checks over the same TLS settings', async () => {
    const http = await proxyWith('{ ca: DIR/ca.pem, servername: localhost }', 'health: { path: /health, interval: 100ms, rise: 1 }');
    await waitUntil(async () => (await getJson(`${http}/x`)).status === 200, 5000, 'the https server to pass its checks');
  });

  it('refuses a config whose CA file cannot be read', async () => {
    const file = writeConfig(`pool: { processes: 0 }\nupstreams: { s: { tls: { ca: ${dir}/missing.pem }, servers: [ "https://127.0.0.1:1" ] } }\nroutes: [ { path: /, upstream: s } ]\n`);
    const { parseConfig } = await import('../lib/config/load.js');
    const { readFileSync } = await import('node:fs');
    expect(() => parseConfig(readFileSync(file, 'utf8'), file)).toThrow(/upstreams\.s\.tls\.ca: cannot use .*missing\.pem/);
  });
});
