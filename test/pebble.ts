/**
 * Debian's pebble (an RFC 8555 test CA) and pebble-challtestsrv (its DNS,
 * answering 127.0.0.1 for every name), on free loopback ports, for the ACME
 * tests. Pebble validates HTTP-01 on `httpPort`: the port of the Portico under test.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { freePort } from '../bench/tools.js';

export const pebbleInstalled = spawnSync('sh', ['-c', 'command -v pebble && command -v pebble-challtestsrv'], { encoding: 'utf8' }).status === 0;

export interface Pebble {
  directory: string;
  /** PEM file of the CA that signed pebble's own HTTPS certificate (tls.acme.ca). */
  caFile: string;
  stop(): Promise<void>;
  /** Starts pebble again on the same port (after stop()). */
  restart(): Promise<void>;
  /** Stops pebble and its DNS server, and removes their files. */
  close(): Promise<void>;
}

export async function startPebble(httpPort: number, validitySeconds: number): Promise<Pebble> {
  const dir = mkdtempSync(join(tmpdir(), 'portico-pebble-'));
  const pems = await generate([{ name: 'commonName', value: 'pebble test directory' }], {
    keyType: 'ec', algorithm: 'sha256', extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
  });
  writeFileSync(join(dir, 'cert.pem'), pems.cert);
  writeFileSync(join(dir, 'key.pem'), pems.private);
  const [port, management, dnsPort, dnsManagement, tlsPort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  writeFileSync(join(dir, 'pebble.json'), JSON.stringify({ pebble: {
    listenAddress: `127.0.0.1:${port}`, managementListenAddress: `127.0.0.1:${management}`,
    certificate: join(dir, 'cert.pem'), privateKey: join(dir, 'key.pem'),
    httpPort, tlsPort, ocspResponderURL: '', externalAccountBindingRequired: false, certificateValidityPeriod: validitySeconds,
  } }));
  const dns = spawn('pebble-challtestsrv', ['-dns01', `127.0.0.1:${dnsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `127.0.0.1:${dnsManagement}`, '-defaultIPv4', '127.0.0.1', '-defaultIPv6', ''], { stdio: 'ignore' });
  let pebble: ChildProcess | undefined;
  const directory = `https://127.0.0.1:${port}/dir`;
  const start = async () => {
    pebble = spawn('pebble', ['-config', join(dir, 'pebble.json'), '-dnsserver', `127.0.0.1:${dnsPort}`], { stdio: 'ignore', env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_AUTHZREUSE: '0' } });
    // Ready once its directory answers (its certificate is the one made above).
    for (let i = 0; i < 100; i++) {
      const up = await new Promise<boolean>((resolve) => {
        get(directory, { ca: pems.cert, timeout: 1000 }, (res) => { res.resume(); resolve(res.statusCode === 200); }).on('error', () => resolve(false));
      });
      if (up) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('pebble did not start');
  };
  const stopOne = (child: ChildProcess | undefined) => new Promise<void>((resolve) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
  await start();
  return {
    directory,
    caFile: join(dir, 'cert.pem'),
    stop: () => stopOne(pebble),
    restart: start,
    async close() {
      await Promise.all([stopOne(pebble), stopOne(dns)]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
