/**
 * Kubernetes volume updates, replayed against a running proxy: the kubelet
 * mounts a ConfigMap or Secret as a directory where each key is a symlink
 * `KEY -> ..data/KEY` and `..data` a symlink to a timestamped directory; an
 * update writes a new timestamped directory, points `..data_tmp` at it, renames
 * `..data_tmp` over `..data` and deletes the old directory. No event names the
 * files themselves, yet the new config and the new certificate must be used.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { generate } from 'selfsigned';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { getJson, type PorticoProcess, ROOT, runProxy, waitUntil } from './helpers.js';

const running: PorticoProcess[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop()));
});
const root = mkdtempSync(join(tmpdir(), 'portico-k8s-mounts-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let updates = 0;
/** What the kubelet's atomic writer does to a volume directory: the first call lays it out, later calls swap it. */
function project(dir: string, files: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  const stamp = `..2026_12_01_09_00_${String(updates).padStart(2, '0')}.${String(123456789 + updates++)}`;
  mkdirSync(join(dir, stamp));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, stamp, name), text);
  const old = existsSync(join(dir, '..data')) ? readlinkSync(join(dir, '..data')) : undefined;
  symlinkSync(stamp, join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), join(dir, '..data')); // the atomic step
  for (const name of Object.keys(files)) if (!existsSync(join(dir, name))) symlinkSync(join('..data', name), join(dir, name));
  if (old) rmSync(join(dir, old), { recursive: true });
}

async function certificate(name: string): Promise<{ cert: string; key: string; fingerprint: string }> {
  const pems = await generate([{ name: 'commonName', value: name }], {
    keyType: 'ec', algorithm: 'sha256', extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: name }] }],
  });
  return { cert: pems.cert, key: pems.private, fingerprint: new X509Certificate(pems.cert).fingerprint256 };
}

/** The SHA-256 fingerprint of the certificate the HTTPS listener serves now. */
function served(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'portico.test', rejectUnauthorized: false }, () => {
      const { fingerprint256 } = socket.getPeerCertificate();
      socket.end();
      resolve(fingerprint256);
    });
    socket.on('error', reject);
  });
}

describe('Kubernetes ConfigMap and Secret volumes', () => {
  it('uses the config and the certificate of an atomic ..data swap, and keeps the certificate when the new Secret is bad', async () => {
    const configDir = join(root, 'config');
    const tlsDir = join(root, 'tls');
    const config = (status: string) => `
listen: { http: "127.0.0.1:0", https: "127.0.0.1:0", admin: "127.0.0.1:0" }
pool: { processes: 0 }
public_status: ${status}
tls:
  certificates: [ { cert: ${join(tlsDir, 'tls.crt')}, key: ${join(tlsDir, 'tls.key')} } ]
routes: [ { path: /site/, static: ${join(ROOT, 'static')} } ]
`;
    const first = await certificate('portico.test');
    project(tlsDir, { 'tls.crt': first.cert, 'tls.key': first.key });
    project(configDir, { 'portico.yaml': config('/status-before') });
    const proxy = await runProxy(join(configDir, 'portico.yaml'));
    running.push(proxy.proc);
    const http = `http://127.0.0.1:${proxy.port}`;
    expect((await getJson(`${http}/status-before`)).status).toBe(200);
    expect(await served(proxy.https!)).toBe(first.fingerprint);

    // Both volumes updated the kubelet's way: a new Secret (renewed certificate) and a new ConfigMap.
    const second = await certificate('portico.test');
    project(tlsDir, { 'tls.crt': second.cert, 'tls.key': second.key });
    project(configDir, { 'portico.yaml': config('/status-after') });
    expect(readlinkSync(join(tlsDir, 'tls.crt'))).toBe('..data/tls.crt'); // the key's own symlink never changes

    await proxy.proc.waitForLog((l) => l.msg === 'config reloaded', 10_000);
    expect((await getJson(`${http}/status-after`)).status).toBe(200);
    expect((await getJson(`${http}/status-before`)).status).toBe(404);
    await waitUntil(async () => (await served(proxy.https!)) === second.fingerprint, 10_000, 'the renewed certificate to be served');

    // A Secret whose key does not match its certificate: refused, the renewed certificate stays.
    const third = await certificate('portico.test');
    project(tlsDir, { 'tls.crt': third.cert, 'tls.key': second.key });
    await proxy.proc.waitForLog((l) => l.msg === 'certificate reload failed; keeping the current certificates', 10_000);
    expect(await served(proxy.https!)).toBe(second.fingerprint);
    const metrics = await (await fetch(`${proxy.admin}/metrics`)).text();
    expect(metrics).toMatch(/^portico_tls_reloads_total\{result="success"\} [1-9]/m);
    expect(metrics).toMatch(/^portico_tls_reloads_total\{result="failure"\} 1$/m);
  });
});
