/**
 * `tls.cert: auto`: a self-signed development certificate for localhost,
 * made with the selfsigned library on first run, kept in the state directory
 * (.portico/ beside the config by default, git-ignored), reused until it nears
 * its expiry, and renewed in place while Portico runs.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'selfsigned';

const VALID_DAYS = 90;
/** Renewed this long before it expires: well before PorticoCertificateExpiring fires (14 days). */
export const RENEW_BEFORE_DAYS = 30;
/** How often a running proxy looks at its expiry. */
const CHECK_EVERY_MS = 12 * 3_600_000;

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

/**
 * Keeps the certificate in `dir` fresh while the process runs: every
 * `everyMs`, renews it when it nears its expiry and hands the new files to
 * `onRenewed` (the TLS listener swaps them in; connections stay open).
 * Before: it was renewed only at start or reload, so a long-running proxy's
 * expiry alert fired, and then the certificate expired.
 * @returns a function that stops it.
 */
export function keepDevCertificateFresh(
  dir: string,
  onRenewed: (files: CertificateFiles) => void,
  onError: (err: Error) => void,
  { now = () => new Date(), everyMs = CHECK_EVERY_MS }: { now?: () => Date; everyMs?: number } = {},
): () => void {
  let checking = false; // one check at a time: a slow one must not overlap the next and renew twice
  const timer = setInterval(() => {
    if (checking) return;
    checking = true;
    // onRenewed's own failure (the listener could not load the files) is reported too, never left unhandled.
    ensureDevCertificate(dir, now())
      .then((files) => { if (files.created) onRenewed(files); })
      .catch(onError)
      .finally(() => { checking = false; });
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
