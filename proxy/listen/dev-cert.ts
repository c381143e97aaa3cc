/**
 * `tls.cert: auto`: a self-signed development certificate for localhost,
 * made with the selfsigned library on first run, kept in the state directory
 * (.portico/ beside the config by default, git-ignored), reused until it nears
 * its expiry, and renewed in place while Portico runs.
 *
 * Several proxy workers (`proxy.workers`) share the directory and start at
 * once. Each used to make its own pair and write key and cert one after the
 * other, so two writers could leave one's key beside the other's cert: every
 * worker then failed at start ("... is not the key of ..."), and kept failing
 * on every restart, since the files stayed (found by CI, test/acme.test.ts).
 * Now one process at a time makes the pair, under a lock file; each file is
 * replaced whole (rename); and a pair whose key does not match is made anew.
 */
import { closeSync, mkdirSync, openSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { generate } from 'selfsigned';
import { readCertificate } from '../../lib/certificates.js';

const VALID_DAYS = 90;
/** Renewed this long before it expires: well before PorticoCertificateExpiring fires (14 days). */
export const RENEW_BEFORE_DAYS = 30;
/** How often a running proxy looks at its expiry. */
const CHECK_EVERY_MS = 12 * 3_600_000;
/** Making a pair takes milliseconds: a lock this old was left by a process that died holding it. */
const STALE_LOCK_MS = 30_000;
/** How long a process waits for another to finish making the pair before it says so. */
const LOCK_WAIT_MS = 15_000;

export interface CertificateFiles {
  cert: string;
  key: string;
}

export async function ensureDevCertificate(dir: string, now = new Date()): Promise<CertificateFiles & { created: boolean }> {
  const files = { cert: join(dir, 'dev-cert.pem'), key: join(dir, 'dev-key.pem') };
  if (usable(files, now)) return { ...files, created: false };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const release = await lock(join(dir, 'dev-cert.lock'));
  try {
    if (usable(files, now)) return { ...files, created: false }; // made by the process that held the lock
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
    replaceFile(files.key, pems.private, 0o600);
    replaceFile(files.cert, pems.cert, 0o644);
    return { ...files, created: true };
  } finally {
    release();
  }
}

/** Both files there, the key the cert's (readCertificate, as the TLS listener will load them), and the cert not near its expiry. */
function usable(files: CertificateFiles, now: Date): boolean {
  try {
    return !expiresSoon(readCertificate(files.cert, files.key).notAfter, now);
  } catch {
    return false; // missing, unreadable or mismatched: made anew
  }
}

/** A reader (another worker, the TLS listener's file watch) sees the old file or the new one, never half of one. */
function replaceFile(file: string, content: string, mode: number): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, content, { mode });
  renameSync(temporary, file);
}

/** Holds `path` (created exclusively) until the returned function is called; takes over a stale one. */
async function lock(path: string): Promise<() => void> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      closeSync(openSync(path, 'wx', 0o600));
      return () => { try { unlinkSync(path); } catch { /* already gone */ } };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    try {
      if (Date.now() - statSync(path).mtimeMs > STALE_LOCK_MS) unlinkSync(path);
    } catch {
      // released meanwhile: try again at once
    }
    if (Date.now() > deadline) throw new Error(`${path} has been held for ${LOCK_WAIT_MS / 1000} s by another process making the development certificate; if no Portico is running, delete it`);
    await sleep(20);
  }
}

function expiresSoon(notAfter: Date, now: Date): boolean {
  return notAfter.getTime() - now.getTime() < RENEW_BEFORE_DAYS * 86_400_000;
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
