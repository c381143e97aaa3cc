/**
 * Where ACME state lives, under the config's state directory (`state_dir`, the
 * systemd unit's StateDirectory, a volume in the container and Kubernetes files):
 *
 *   acme/account-<directory hash>.key       the account key, one per CA directory
 *   acme/certificates/<name>-<hash>/        key.pem and cert.pem of one set of domains
 *   acme/certificates/<name>-<hash>/order.lock   held by the process ordering it
 *   acme/challenges/<token>                 HTTP-01 answers, read by every proxy process
 *
 * Keys and certificates are written mode 0600 to a temporary file and renamed
 * into place, so a reader never sees half a file. Proxies that share the
 * directory (proxy.workers, or replicas on a shared volume) share all of it.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

/** An order lock older than this is from a process that died mid-order. */
const STALE_LOCK_MS = 10 * 60_000;

export interface CertificateFiles {
  cert: string;
  key: string;
}

/** Where the HTTP-01 answers are, for the listener that serves them. */
export function challengesDir(stateDir: string): string {
  return join(stateDir, 'acme', 'challenges');
}

export class AcmeStore {
  readonly root: string;
  readonly challenges: string;
  private readonly certDir: string;

  constructor(stateDir: string, private readonly directory: string, domains: string[]) {
    this.root = join(stateDir, 'acme');
    this.challenges = challengesDir(stateDir);
    const id = hash([...domains].sort().join(','));
    this.certDir = join(this.root, 'certificates', `${domains[0]}-${id}`);
  }

  /** The certificate's files, whether or not they exist yet. */
  get files(): CertificateFiles {
    return { cert: join(this.certDir, 'cert.pem'), key: join(this.certDir, 'key.pem') };
  }

  /** The stored certificate's files, or undefined before the first order. */
  stored(): CertificateFiles | undefined {
    const files = this.files;
    return existsSync(files.cert) && existsSync(files.key) ? files : undefined;
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

  /**
   * Takes the order lock; false when another process holds it (`holder()` says which).
   * A lock left by a dead process of this host, or older than 10 minutes, is taken over.
   */
  lock(now = Date.now()): boolean {
    const file = this.lockFile();
    mkdirSync(this.certDir, { recursive: true, mode: 0o700 });
    const holder = this.holder();
    if (holder || existsSync(file)) {
      // Unreadable (a crash between create and write): as good as dead.
      const dead = !holder || (holder.host === hostname() && !alive(holder.pid));
      let stale = dead;
      try {
        stale ||= now - statSync(file).mtimeMs > STALE_LOCK_MS;
      } catch {
        // removed meanwhile
      }
      if (stale) rmSync(file, { force: true });
    }
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, `${hostname()} ${process.pid}\n`);
      closeSync(fd);
      return true;
    } catch {
      return false;
    }
  }

  /** Who holds the order lock, if anyone. */
  holder(): { host: string; pid: number } | undefined {
    try {
      const [host, pid] = readFileSync(this.lockFile(), 'utf8').trim().split(' ');
      return host && pid && /^\d+$/.test(pid) ? { host, pid: Number(pid) } : undefined;
    } catch {
      return undefined;
    }
  }

  unlock(): void {
    const holder = this.holder();
    if (holder?.host === hostname() && holder.pid === process.pid) rmSync(this.lockFile(), { force: true });
  }

  private lockFile(): string {
    return join(this.certDir, 'order.lock');
  }

  private accountFile(): string {
    return join(this.root, `account-${hash(this.directory)}.key`);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}

function writeAtomically(file: string, text: string, mode = 0o600): void {
  mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text, { mode });
  renameSync(temporary, file);
}
