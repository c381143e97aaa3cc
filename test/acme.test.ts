/**
 * tls.acme against a real ACME server: Debian's pebble, with pebble-challtestsrv
 * resolving every name to 127.0.0.1 and HTTP-01 validated on Portico's HTTP
 * listener. Two proxy workers share the state directory, so one orders and both
 * serve. Pebble's certificates live 30 s here, so a renewal (at two thirds of
 * the lifetime) happens within the test.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../bench/tools.js';
import { CLI, getJson, portico, type LogLine, type PorticoProcess, waitUntil, writeConfig } from './helpers.js';
import { pebbleInstalled, startPebble, type Pebble } from './pebble.js';
import { spawnSync } from 'node:child_process';

const VALIDITY_S = 30;
const DOMAINS = ['a.portico.test', 'b.portico.test'];

interface Served {
  serial: string;
  issuer: string;
  names: string;
}

/** The certificate a TLS client gets for `servername`. */
function served(port: number, servername: string): Promise<Served> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => {
      const c = socket.getPeerCertificate();
      resolve({ serial: c.serialNumber, issuer: String(c.issuer?.CN), names: String(c.subjectaltname) });
      socket.end();
    });
    socket.on('error', reject);
  });
}

/** The serial every worker serves, once they agree (each loads a renewed certificate within a couple of seconds). */
async function servedByAll(port: number): Promise<string> {
  let serial = '';
  await waitUntil(async () => {
    const serials = new Set<string>();
    for (let i = 0; i < 6; i++) serials.add((await served(port, DOMAINS[0]!)).serial);
    serial = [...serials][0]!;
    return serials.size === 1;
  }, 10_000, 'every worker serving the same certificate');
  return serial;
}

describe.skipIf(!pebbleInstalled)(`ACME with pebble${pebbleInstalled ? '' : ' (skipped: apt-get install -y pebble)'}`, () => {
  let pebble: Pebble;
  let file: string;
  let httpPort: number;
  let master: PorticoProcess;
  let https: number;
  let admin: string;
  const running: PorticoProcess[] = [];

  const start = async () => {
    master = portico(['--config', file]);
    running.push(master);
    const ready = await master.waitForLog((l) => l.msg === 'portico ready', 20_000);
    https = ready.https as number;
    admin = `http://127.0.0.1:${ready.admin as number}`;
  };
  const obtained = (l: LogLine) => l.msg === 'ACME certificate obtained';
  /** Workers whose TLS listener reloaded after they loaded the ACME certificate from the state directory. */
  const workersServingAcme = () => {
    const loaded = new Set<unknown>();
    const serving = new Set<unknown>();
    for (const l of master.lines) {
      if (l.msg === 'ACME certificate loaded from the state directory') loaded.add(l.pid);
      else if (l.msg === 'certificates reloaded' && loaded.has(l.pid)) serving.add(l.pid);
    }
    return serving.size;
  };

  beforeAll(async () => {
    httpPort = await freePort();
    pebble = await startPebble(httpPort, VALIDITY_S);
    file = writeConfig(`
listen: { http: "127.0.0.1:${httpPort}", https: "127.0.0.1:0", admin: "127.0.0.1:0" }
state_dir: state
proxy: { workers: 2 }
tls:
  redirect_http: true
  acme: { directory: "${pebble.directory}", email: ops@portico.test, domains: [${DOMAINS.join(', ')}], ca: "${pebble.caFile}" }
pool: { processes: 0 }
routes: [ { path: /, static: "." } ]
`);
  }, 30_000);

  afterAll(async () => {
    await Promise.all(running.map((p) => p.stop()));
    await pebble?.close();
  }, 30_000);

  it('orders one certificate for two names (one worker orders, both serve it), keys mode 0600', async () => {
    const started = performance.now();
    await start();
    await master.waitForLog(obtained, 30_000);
    const firstCertificateMs = Math.round(performance.now() - started);
    // The other worker loads it from the store within a second or two. Each worker says when its TLS
    // listener took it; probing connections instead could land on the same worker six times running.
    await waitUntil(() => workersServingAcme() === 2, 10_000, 'the ACME certificate served by both workers');
    // Both names, on several connections (the kernel spreads them over both workers), get pebble's certificate.
    for (let i = 0; i < 6; i++) {
      for (const name of DOMAINS) {
        const cert = await served(https, name);
        expect(cert.issuer).toMatch(/^Pebble Intermediate/);
        expect(cert.names).toBe(`DNS:${DOMAINS[0]}, DNS:${DOMAINS[1]}`);
      }
    }
    expect(master.lines.filter(obtained)).toHaveLength(1);
    const certDir = join(file, '..', 'state', 'acme', 'certificates');
    const [dir] = (await import('node:fs')).readdirSync(certDir);
    for (const name of ['key.pem', 'cert.pem']) expect(statSync(join(certDir, dir!, name)).mode & 0o777).toBe(0o600);
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    expect(metrics).toMatch(/portico_acme_orders_total\{worker="\d",kind="new",result="success"\} 1/);
    expect(metrics).toMatch(/portico_tls_certificate_not_after_seconds\{worker="\d",certificate="a.portico.test"\}/);
    console.log(`ACME: first certificate ${firstCertificateMs} ms after the start`);
  }, 60_000);

  it('answers HTTP-01 from the store before redirect_http; an unknown token is a 404, not a 308 to HTTPS', async () => {
    // What the ordering proxy stores for the CA, any worker answers.
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(file, '..', 'state', 'acme', 'challenges', 'tok-EN_1'), 'tok-EN_1.thumbprint');
    for (let i = 0; i < 4; i++) {
      const answer = await fetch(`http://127.0.0.1:${httpPort}/.well-known/acme-challenge/tok-EN_1`, { redirect: 'manual' });
      expect(answer.status).toBe(200);
      expect(await answer.text()).toBe('tok-EN_1.thumbprint');
    }
    const res = await fetch(`http://127.0.0.1:${httpPort}/.well-known/acme-challenge/no-such-token`, { redirect: 'manual' });
    expect(res.status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${httpPort}/.well-known/acme-challenge/..%2F..%2Faccount.key`, { redirect: 'manual' })).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${httpPort}/index.html`, { redirect: 'manual' })).status).toBe(308);
  });

  it('a restart loads the stored certificate and orders nothing', async () => {
    const before = { serial: await servedByAll(https) };
    await master.stop();
    await start();
    await master.waitForLog((l) => l.msg === 'ACME certificate loaded from the state directory');
    expect(await servedByAll(https)).toBe(before.serial);
    await new Promise((r) => setTimeout(r, 1000));
    expect(master.lines.filter((l) => obtained(l) || /ACME (order|renewal) failed/.test(String(l.msg)))).toEqual([]);
  }, 30_000);

  it(`renews at two thirds of pebble's ${VALIDITY_S} s lifetime, and serves the new certificate`, async () => {
    const before = { serial: await servedByAll(https) };
    const renewal = await master.waitForLog((l) => obtained(l) && l.kind === 'renewal', VALIDITY_S * 1000);
    // At two thirds of the lifetime, less up to a thirtieth: 19 to 20 s after issue, 10 to 11 s before expiry.
    const before_ = master.lines.slice(0, master.lines.indexOf(renewal)).filter((l) => l.msg === 'ACME certificate loaded from the state directory');
    const issuedNotAfter = Date.parse(String(before_.at(-1)!.notAfter));
    // When the order began (its log line comes when it ends, `ms` later: a full validation takes seconds under load).
    const renewalStarted = Date.parse(String(renewal.time)) - Number(renewal.ms);
    const lifetimeLeft = (issuedNotAfter - renewalStarted) / 1000;
    expect(lifetimeLeft).toBeGreaterThan(VALIDITY_S / 3 - 2);
    expect(lifetimeLeft).toBeLessThan(VALIDITY_S / 3 + VALIDITY_S / 30 + 1.5);
    await waitUntil(async () => (await servedByAll(https)) !== before.serial, 10_000, 'the renewed certificate served by every worker');
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    expect(metrics).toMatch(/portico_acme_orders_total\{worker="\d",kind="renewal",result="success"\} 1/);
  }, VALIDITY_S * 1000 + 20_000);

  it('pebble down during a renewal: the failure is counted and logged, the current certificate stays', async () => {
    const before = { serial: await servedByAll(https) };
    await pebble.stop();
    try {
      const failure = await master.waitForLog((l) => /ACME renewal failed/.test(String(l.msg)), VALIDITY_S * 1000);
      expect(String(failure.msg)).toMatch(/cannot reach the ACME directory .*ECONNREFUSED.*still serving the current certificate, retrying in \d+ s/);
      expect(await servedByAll(https)).toBe(before.serial);
      const metrics = await (await fetch(`${admin}/metrics`)).text();
      expect(metrics).toMatch(/portico_acme_orders_total\{worker="\d",kind="renewal",result="failure"\} [1-9]/);
    } finally {
      await pebble.restart();
    }
  }, VALIDITY_S * 1000 + 20_000);
});

describe('ACME config errors', () => {
  const check = (yaml: string) => spawnSync(process.execPath, [CLI, 'check-config', writeConfig(yaml)], { encoding: 'utf8' });

  it.each([
    ['no email', 'tls: { acme: { directory: "https://ca.example/dir", domains: [a.example.com] } }', /tls\.acme\.email/],
    ['a wildcard domain', 'tls: { acme: { directory: "https://ca.example/dir", email: ops@example.com, domains: ["*.example.com"] } }', /HTTP-01 cannot prove wildcards/],
    ['no directory', 'tls: { acme: { email: ops@example.com, domains: [a.example.com] } }', /tls\.acme\.directory/],
    ['an http:// directory', 'tls: { acme: { directory: "http://ca.example/dir", email: ops@example.com, domains: [a.example.com] } }', /tls\.acme\.directory.*https/],
    ['cert: auto beside acme', 'tls: { cert: auto, acme: { directory: "https://ca.example/dir", email: ops@example.com, domains: [a.example.com] } }', /cert: auto and acme exclude each other/],
    ['a missing CA file', 'tls: { acme: { directory: "https://ca.example/dir", email: ops@example.com, domains: [a.example.com], ca: nope.pem } }', /tls\.acme\.ca.*nope\.pem/],
  ])('%s is refused with the key to fix', (_what, yaml, message) => {
    const { status, stderr, stdout } = check(`${yaml}\nroutes: [ { path: /, static: "." } ]\n`);
    expect(status).not.toBe(0);
    expect(stderr + stdout).toMatch(message);
  });

  it('an unreachable directory: the start goes on (HTTP serves, HTTPS on a stand-in certificate), the error says what could not be reached', async () => {
    const file = writeConfig(`
listen: { http: "127.0.0.1:0", https: "127.0.0.1:0", admin: "127.0.0.1:0" }
state_dir: state
tls: { acme: { directory: "https://127.0.0.1:1/dir", email: ops@portico.test, domains: [a.portico.test] } }
pool: { processes: 0 }
routes: [ { path: /, static: "." } ]
`);
    const master = portico(['--config', file]);
    try {
      const ready = await master.waitForLog((l) => l.msg === 'portico ready', 20_000);
      const failure = await master.waitForLog((l) => /ACME order failed/.test(String(l.msg)), 20_000);
      expect(String(failure.msg)).toMatch(/cannot reach the ACME directory https:\/\/127\.0\.0\.1:1\/dir: ECONNREFUSED; retrying in \d+ s/);
      expect((await fetch(`http://127.0.0.1:${ready.http as number}/.well-known/acme-challenge/x`)).status).toBe(404);
      expect((await served(ready.https as number, 'a.portico.test')).names).toContain('localhost');
      const metrics = (await getJson(`http://127.0.0.1:${ready.admin as number}/metrics`)).body as string;
      expect(metrics).toMatch(/portico_acme_orders_total\{kind="new",result="failure"\} 1/);
    } finally {
      await master.stop();
    }
  }, 40_000);
});
