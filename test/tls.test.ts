/**
 * TLS termination over real TLS: the development certificate, SNI with two
 * certificates, reload of a changed certificate while serving, refused old
 * protocols and weak suites, redirect and HSTS, and the expiry metric.
 */
import { mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import { generate } from 'selfsigned';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { getJson, portico, type PorticoProcess, runProxy, writeConfig } from './helpers.js';

const running: PorticoProcess[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop()));
});
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'portico-tls-'));
  dirs.push(dir);
  return dir;
}

async function makeCert(dir: string, name: string, file = name): Promise<{ cert: string; key: string }> {
  const pems = await generate([{ name: 'commonName', value: name }], {
    keyType: 'ec', algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: name }, { type: 2, value: `*.${name}` }] }],
  });
  const paths = { cert: join(dir, `${file}.pem`), key: join(dir, `${file}.key`) };
  writeFileSync(paths.cert, pems.cert);
  writeFileSync(paths.key, pems.private);
  return paths;
}

async function startTls(tlsYaml: string, dir?: string) {
  const yaml = `listen: { http: "127.0.0.1:0", https: "127.0.0.1:0", admin: "127.0.0.1:0" }\npool: { processes: 0 }\n${tlsYaml}\nroutes: [ { path: /, static: ${process.cwd()}/static } ]\n`;
  const file = dir ? join(dir, 'portico.yaml') : writeConfig(yaml);
  if (dir) writeFileSync(file, yaml);
  const proxy = await runProxy(file);
  running.push(proxy.proc);
  return { proc: proxy.proc, file, http: proxy.port, https: proxy.https!, admin: proxy.admin };
}

/** The certificate a TLS handshake with `servername` gets, or the handshake's error. */
function handshake(port: number, options: { servername?: string; maxVersion?: 'TLSv1.1' | 'TLSv1.2'; minVersion?: 'TLSv1' | 'TLSv1.2'; ciphers?: string } = {}): Promise<PeerCertificate | Error> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'], ...options }, () => {
      const cert = socket.getPeerCertificate();
      socket.end();
      resolve(cert);
    });
    socket.on('error', (err) => resolve(err));
  });
}

function httpsGet(port: number, path: string, servername = 'localhost', agent?: HttpsAgent): Promise<{ status: number; headers: Record<string, unknown>; body: string; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, servername, rejectUnauthorized: false, agent }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, reused: req.reusedSocket }));
    });
    req.on('error', reject).end();
  });
}

describe('TLS termination', () => {
  it('makes a development certificate on first run (tls.cert: auto), keeps it out of the config, and reuses it', async () => {
    const dir = tempDir();
    const first = await startTls('tls: { cert: auto }', dir);
    const page = await httpsGet(first.https, '/');
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/Portico/);
    const certFile = join(dir, '.portico/dev-cert.pem');
    const made = statSync(certFile).mtimeMs;
    expect((statSync(join(dir, '.portico/dev-key.pem')).mode & 0o777).toString(8)).toBe('600');
    const cert = await handshake(first.https);
    expect(cert).not.toBeInstanceOf(Error);
    expect((cert as PeerCertificate).subjectaltname).toMatch(/DNS:localhost/);
    await first.proc.stop();
    const second = await startTls('tls: { cert: auto }', dir);
    expect((await httpsGet(second.https, '/')).status).toBe(200);
    expect(statSync(certFile).mtimeMs).toBe(made);
  });

  it('chooses the certificate by SNI, with wildcards, and falls back to the first', async () => {
    const dir = tempDir();
    const a = await makeCert(dir, 'a.test');
    const b = await makeCert(dir, 'b.test');
    const { https } = await startTls(`tls:\n  certificates:\n    - { cert: ${a.cert}, key: ${a.key} }\n    - { cert: ${b.cert}, key: ${b.key} }`);
    const cnOf = async (servername: string) => ((await handshake(https, { servername })) as PeerCertificate).subject.CN;
    expect(await cnOf('a.test')).toBe('a.test');
    expect(await cnOf('b.test')).toBe('b.test');
    expect(await cnOf('www.b.test')).toBe('b.test');
    expect(await cnOf('x.y.b.test')).toBe('a.test'); // a wildcard covers one label only
    expect(await cnOf('unknown.example')).toBe('a.test');
  });

  it('reloads a certificate replaced on disk while serving, and keeps the old one when the new files are bad', async () => {
    const dir = tempDir();
    const a = await makeCert(dir, 'a.test');
    const { https, proc, admin } = await startTls(`tls: { cert: ${a.cert}, key: ${a.key} }`);
    const before = (await handshake(https, { servername: 'a.test' })) as PeerCertificate;
    const agent = new HttpsAgent({ keepAlive: true, maxSockets: 1 });
    expect((await httpsGet(https, '/', 'a.test', agent)).status).toBe(200);
    // Replace both files by rename, as certbot and Kubernetes do.
    const next = await makeCert(dir, 'a.test', 'next');
    renameSync(next.key, a.key);
    renameSync(next.cert, a.cert);
    await proc.waitForLog((l) => l.msg === 'certificates reloaded', 5000);
    const after = (await handshake(https, { servername: 'a.test' })) as PeerCertificate;
    expect(after.fingerprint256).not.toBe(before.fingerprint256);
    expect(after.fingerprint256).toBe((await handshake(https, { servername: 'unknown' }) as PeerCertificate).fingerprint256);
    // A connection opened before the swap keeps working: nothing was restarted.
    const again = await httpsGet(https, '/', 'a.test', agent);
    expect(again).toMatchObject({ status: 200, reused: true });
    agent.destroy();

    writeFileSync(a.cert, 'not a certificate');
    await proc.waitForLog((l) => l.msg === 'certificate reload failed; keeping the current certificates', 5000);
    expect(((await handshake(https, { servername: 'a.test' })) as PeerCertificate).fingerprint256).toBe(after.fingerprint256);
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    expect(metrics).toMatch(/^portico_tls_reloads_total\{result="success"\} [1-9]/m);
    expect(metrics).toMatch(/^portico_tls_reloads_total\{result="failure"\} [1-9]/m);
    expect(metrics).toMatch(/^portico_tls_certificate_not_after_seconds\{certificate="a\.test"\} \d{10}$/m);
  });

  it('switches to other certificate files named in a reloaded config, on the same port', async () => {
    const dir = tempDir();
    const a = await makeCert(dir, 'a.test');
    const b = await makeCert(dir, 'b.test');
    const { https, file, proc } = await startTls(`tls: { cert: ${a.cert}, key: ${a.key} }`, dir);
    expect(((await handshake(https)) as PeerCertificate).subject.CN).toBe('a.test');
    writeFileSync(file, readFileSync(file, 'utf8').replace(`cert: ${a.cert}, key: ${a.key}`, `cert: ${b.cert}, key: ${b.key}`));
    await proc.waitForLog((l) => l.msg === 'config reloaded', 5000);
    expect(((await handshake(https)) as PeerCertificate).subject.CN).toBe('b.test');
  });

  it('refuses TLS 1.1 and suites without forward secrecy or AEAD', async () => {
    const { https } = await startTls('tls: { cert: auto }');
    expect(await handshake(https, { maxVersion: 'TLSv1.1', minVersion: 'TLSv1' })).toBeInstanceOf(Error);
    expect(await handshake(https, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA' })).toBeInstanceOf(Error);
    expect(await handshake(https, { maxVersion: 'TLSv1.2' })).not.toBeInstanceOf(Error);
    expect(await handshake(https)).not.toBeInstanceOf(Error);
  });

  it('redirects plain HTTP to HTTPS and sends HSTS when asked', async () => {
    const { http, https } = await startTls('tls: { cert: auto, redirect_http: true, hsts: "max-age=31536000" }');
    const res = await fetch(`http://127.0.0.1:${http}/api/foo?val=1`, { redirect: 'manual' });
    expect(res.status).toBe(308);
    expect(res.headers.get('location')).toBe(`https://127.0.0.1:${https}/api/foo?val=1`);
    const secure = await httpsGet(https, '/');
    expect(secure.headers['strict-transport-security']).toBe('max-age=31536000');
  });

  it.each([
    ['a cert without its key', 'tls: { cert: site.pem }', /tls: a cert file needs its key/],
    ['both forms at once', 'tls: { cert: auto, certificates: [] }', /give either cert/],
    ['a missing file', 'tls: { cert: nope.pem, key: nope.key }', /tls\.cert: ENOENT|tls\.cert: .*no such file/],
  ])('refuses %s in the config', async (_what, tlsYaml, message) => {
    const file = writeConfig(`${tlsYaml}\nroutes: [ { path: /, static: ${process.cwd()}/static } ]\n`);
    const check = portico(['check-config', file]);
    expect((await check.exited).code).toBe(1);
    expect(check.stderr).toMatch(message);
  });

  it('refuses a key that does not belong to the certificate', async () => {
    const dir = tempDir();
    const a = await makeCert(dir, 'a.test');
    const b = await makeCert(dir, 'b.test');
    const check = portico(['check-config', writeConfig(`tls: { cert: ${a.cert}, key: ${b.key} }\nroutes: [ { path: /, static: ${process.cwd()}/static } ]\n`)]);
    expect((await check.exited).code).toBe(1);
    expect(check.stderr).toMatch(/b\.test\.key is not the key of .*a\.test\.pem/);
  });

  it('serves the same API over HTTPS as over HTTP', async () => {
    const { https, http } = await startTls('tls: { cert: auto }');
    expect((await httpsGet(https, '/')).status).toBe((await getJson(`http://127.0.0.1:${http}/`)).status);
  });
});
