/**
 * Where ACME state lives, under the config's state directory (`state_dir`, the
 * systemd unit's StateDirectory, a volume in the container and Kubernetes files):
 *
 *   acme/account-<directory hash>.key        the account key, one per CA directory
 *   acme/certificates/<name>-<hash>/         one per CA directory and set of domains:
 *       key.pem, cert.pem                     the certificate and its key
 *       order.lock                            held by the process ordering it (host, pid, token)
 *       backoff.json                          failures in a row and the next attempt, for every process
 *   acme/challenges/<token>                  HTTP-01 answers, read by every proxy process
 *
 * Files are written mode 0600 to a temporary file and renamed into place, so a
 * reader never sees half a file. Proxies that share the directory
 * (proxy.workers, or replicas on a shared volume) share all of it.
 */
import { createHash, randomUUID, X509Certificate } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { readCertificate, type Certificate } from '../../lib/certificates.js';

/** A lock not refreshed for this long is from a process that died mid-order (the holder touches it every few seconds). */
export const STALE_LOCK_MS = 60_000;

export interface CertificateFiles {
  cert: string;
  key: string;
}

/** Failures in a row, and when any process may try again: shared, so N proxies do not make N times the attempts. */
export interface Backoff {
  failures: number;
  nextAttemptAt: number;
}

/** Where the HTTP-01 answers are, for the listener that serves them. */
export function challengesDir(stateDir: string): string {
  return join(stateDir, 'acme', 'challenges');
}

export class AcmeStore {
  readonly root: string;
  readonly challenges: string;
  private readonly certDir: string;
  /** This store's own lock token: unlock() removes only a lock it took. */
  private readonly token = randomUUID();

  constructor(stateDir: string, private readonly directory: string, private readonly domains: string[]) {
    this.root = join(stateDir, 'acme');
    this.challenges = challengesDir(stateDir);
    // Another CA (staging → production) or another set of names is another certificate.
    const sorted = [...domains].sort();
    this.certDir = join(this.root, 'certificates', `${sorted[0]}-${hash(`${directory}\n${sorted.join(',')}`)}`);
  }

  /** The certificate's files, whether or not they exist yet. */
  get files(): CertificateFiles {
    return { cert: join(this.certDir, 'cert.pem'), key: join(this.certDir, 'key.pem') };
  }

  /**
   * The stored certificate, when there is one whose key matches and whose names cover the
   * domains; undefined before the first order or when what is stored cannot be served
   * (a crash between the two renames, a damaged file): the manager then orders anew.
   */
  stored(): (Certificate & { notBefore: Date }) | undefined {
    const files = this.files;
    if (!existsSync(files.cert) || !existsSync(files.key)) return undefined;
    try {
      const certificate = readCertificate(files.cert, files.key);
      if (!this.domains.every((d) => certificate.names.includes(d))) return undefined;
      return { ...certificate, notBefore: notBeforeOf(certificate.cert) };
    } catch {
      return undefined;
    }
  }

  accountKey(): string | undefined {
    const file = this.accountFile();
    return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  }

  saveAccountKey(pem: string): void {
    writeAtomically(this.accountFile(), pem);
  }

  /** Key first, then certificate: a reader that sees the new certificate finds its key already there. */
  saveCertificate(keyPem: string, certPem: string): void {
    writeAtomically(this.files.key, keyPem);
    writeAtomically(this.files.cert, certPem);
  }

  saveChallenge(token: string, keyAuthorization: string): void {
    writeAtomically(join(this.challenges, token), keyAuthorization, 0o644);
  }

  removeChallenge(token: string): void {
    rmSync(join(this.challenges, token), { force: true });
  }

  backoff(): Backoff {
    try {
      const { failures, nextAttemptAt } = JSON.parse(readFileSync(join(this.certDir, 'backoff.json'), 'utf8')) as Backoff;
      return { failures: Number(failures) || 0, nextAttemptAt: Number(nextAttemptAt) || 0 };
    } catch {
      return { failures: 0, nextAttemptAt: 0 };
    }
  }

  saveBackoff(backoff: Backoff): void {
    writeAtomically(join(this.certDir, 'backoff.json'), JSON.stringify(backoff));
  }

  /**
   * Takes the order lock; false when another process holds it (`holder()` says which).
   * The lock is made whole in a temporary file and linked into place, which fails if one
   * exists: two processes can never both hold it. A lock not refreshed (touch()) for a
   * minute is taken over.
   */
  lock(now = Date.now()): boolean {
    const file = this.lockFile();
    mkdirSync(this.certDir, { recursive: true, mode: 0o700 });
    try {
      if (now - statSync(file).mtimeMs > STALE_LOCK_MS) {
        // Renamed aside, not removed: of two processes taking over, only one rename succeeds.
        renameSync(file, `${file}.stale-${this.token}`);
        rmSync(`${file}.stale-${this.token}`, { force: true });
      }
    } catch {
      // no lock, or another process took it over first
    }
    const temporary = `${file}.${this.token}`;
    writeFileSync(temporary, `${hostname()} ${process.pid} ${this.token}\n`, { mode: 0o600 });
    try {
      linkSync(temporary, file);
      return true;
    } catch {
      return false;
    } finally {
      rmSync(temporary, { force: true });
    }
  }

  /** Keeps the lock fresh while an order runs. */
  touch(): void {
    const now = new Date();
    if (this.holder()?.token === this.token) utimesSync(this.lockFile(), now, now);
  }

  /** Who holds the order lock, if anyone. */
  holder(): { host: string; pid: number; token: string } | undefined {
    try {
      const [host, pid, token] = readFileSync(this.lockFile(), 'utf8').trim().split(' ');
      return host && pid && token ? { host, pid: Number(pid), token } : undefined;
    } catch {
      return undefined;
    }
  }

  /** Removes the lock if this store took it. */
  unlock(): void {
    if (this.holder()?.token === this.token) rmSync(this.lockFile(), { force: true });
  }

  private lockFile(): string {
    return join(this.certDir, 'order.lock');
  }

  private accountFile(): string {
    return join(this.root, `account-${hash(this.directory)}.key`);
  }
}

function notBeforeOf(pem: string): Date {
  return new Date(new X509Certificate(pem).validFrom);
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}

function writeAtomically(file: string, text: string, mode = 0o600): void {
  mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.${randomUUID()}.tmp`;
  writeFileSync(temporary, text, { mode, flag: 'wx' });
  renameSync(temporary, file);
}
