/**
 * `tls.cert: auto`: a self-signed development certificate for localhost,
 * made with the selfsigned library on first run, kept beside the config in
 * .portico/ (git-ignored) and reused until it nears its expiry.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'selfsigned';

const VALID_DAYS = 90;
const RENEW_BEFORE_DAYS = 7;

export interface CertificateFiles {
  cert: string;
  key: string;
}

export async function ensureDevCertificate(dir: string, now = new Date()): Promise<CertificateFiles & { created: boolean }> {
  const files = { cert: join(dir, 'dev-cert.pem'), key: join(dir, 'dev-key.pem') };
  if (existsSync(files.cert) && existsSync(files.key) && !expiresSoon(files.cert, now)) return { ...files, created: false };
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: now,
    notAfterDate: new Date(now.getTime() + VALID_DAYS * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }, { type: 7, ip: '::1' }] },
    ],
  });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(files.key, pems.private, { mode: 0o600 });
  writeFileSync(files.cert, pems.cert, { mode: 0o644 });
  return { ...files, created: true };
}

function expiresSoon(certFile: string, now: Date): boolean {
  try {
    const notAfter = new Date(new X509Certificate(readFileSync(certFile)).validTo).getTime();
    return notAfter - now.getTime() < RENEW_BEFORE_DAYS * 86_400_000;
  } catch {
    return true;
  }
}
