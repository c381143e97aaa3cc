/**
 * `tls.acme`: orders a certificate for the configured domains from an ACME CA
 * with acme-client (RFC 8555, HTTP-01 answered by every proxy from the store),
 * keeps it in the state directory, and renews it at two thirds of its lifetime.
 * A failed order is retried with exponential backoff while the old certificate
 * keeps being served. Proxies sharing the state directory take the store's order
 * lock first and share its backoff: one orders, the others load what it stored.
 */
import { get as httpsGet, Agent } from 'node:https';
import acme from 'acme-client';
import type { AcmeConfig } from '../../lib/config/load.js';
import type { Logger } from '../../lib/log.js';
import { renewAt, retryDelay } from './schedule.js';
import { AcmeStore, type CertificateFiles } from './store.js';

/** While another process holds the order lock, look at the store again this often. */
const LOCKED_RETRY_MS = 1000;
/** The lock is touched this often while an order runs (a lock untouched for a minute is taken over). */
const HEARTBEAT_MS = 5000;
/** A CA that does not answer within this long is a failed attempt (axios waits forever by default). */
const REQUEST_TIMEOUT_MS = 30_000;

export interface AcmeEvents {
  /** An order finished: the first for these domains ('new') or a renewal. */
  onOrder(kind: 'new' | 'renewal', ok: boolean): void;
  /** The stored certificate changed (this process ordered it, or another one did): serve it. */
  onCertificate(files: CertificateFiles, notAfter: Date): void;
}

export class AcmeManager {
  readonly store: AcmeStore;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  /** The order under way, if any: stop() waits for it, so that a successor never orders beside it. */
  private ordering: Promise<void> | undefined;
  /** The order lock's holder this process last said it waits for. */
  private waitingFor: string | undefined;
  /** notAfter of the certificate last handed to onCertificate. */
  private served = 0;

  constructor(private readonly config: AcmeConfig, private readonly log: Logger, private readonly events: AcmeEvents, private readonly random: () => number = Math.random) {
    this.store = new AcmeStore(config.stateDir, config.directory, config.domains);
  }

  /** Loads what is stored (serving it at once) and orders or renews when it is due. */
  start(): void {
    void this.tick();
  }

  /** No more orders; resolves once the one under way (if any) has ended and given its lock back. */
  stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    return this.ordering ?? Promise.resolve();
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.step();
    } catch (err) {
      // The state directory unwritable, say: never an unhandled rejection that ends the proxy.
      const delay = retryDelay(1);
      this.log.error({ domains: this.config.domains, dir: this.config.stateDir, error: (err as Error).message, retryInMs: delay }, `ACME: ${(err as Error).message}; trying again in ${Math.round(delay / 1000)} s`);
      this.schedule(delay);
    }
  }

  private async step(): Promise<void> {
    const stored = this.store.stored();
    const now = Date.now();
    if (stored) {
      if (stored.notAfter.getTime() !== this.served) {
        this.served = stored.notAfter.getTime();
        this.log.info({ domains: this.config.domains, notAfter: stored.notAfter }, 'ACME certificate loaded from the state directory');
        this.events.onCertificate({ cert: stored.certFile, key: stored.keyFile }, stored.notAfter);
      }
      const due = renewAt(stored.notBefore.getTime(), stored.notAfter.getTime(), this.random);
      if (due > now) return this.schedule(due - now);
    }
    // Due, or nothing stored: wait out the backoff every proxy shares, then take the lock.
    const backoff = this.store.backoff();
    if (backoff.nextAttemptAt > now) return this.schedule(backoff.nextAttemptAt - now);
    if (!this.store.lock()) {
      const holder = this.store.holder();
      const who = holder ? `${holder.host} ${holder.pid}` : 'unknown';
      if (who !== this.waitingFor) this.log.info({ domains: this.config.domains, holder: holder && { host: holder.host, pid: holder.pid } }, 'another proxy is ordering this certificate; waiting for it in the state directory');
      this.waitingFor = who;
      return this.schedule(LOCKED_RETRY_MS);
    }
    this.waitingFor = undefined;
    const kind = stored ? 'renewal' : 'new';
    let done!: () => void;
    this.ordering = new Promise((resolve) => { done = resolve; });
    const heartbeat = setInterval(() => this.store.touch(), HEARTBEAT_MS);
    try {
      const started = Date.now();
      await this.order();
      this.store.saveBackoff({ failures: 0, nextAttemptAt: 0 });
      this.events.onOrder(kind, true);
      this.log.info({ domains: this.config.domains, kind, ms: Date.now() - started }, 'ACME certificate obtained');
    } catch (err) {
      const failures = this.store.backoff().failures + 1;
      const lifetime = stored ? stored.notAfter.getTime() - stored.notBefore.getTime() : undefined;
      const delay = retryDelay(failures, lifetime);
      this.store.saveBackoff({ failures, nextAttemptAt: Date.now() + delay });
      this.events.onOrder(kind, false);
      const why = describe(err, this.config.directory);
      this.log.error({ domains: this.config.domains, kind, directory: this.config.directory, failures, retryInMs: delay, error: why },
        `ACME ${kind === 'new' ? 'order' : 'renewal'} failed: ${why}; ${stored ? 'still serving the current certificate, ' : ''}retrying in ${Math.round(delay / 1000)} s`);
      return this.schedule(delay);
    } finally {
      clearInterval(heartbeat);
      this.store.unlock();
      this.ordering = undefined;
      done();
    }
    return this.step(); // serve it, and schedule its renewal
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    // setTimeout's limit is 24.8 days: a longer wait is taken in steps (tick looks again).
    this.timer = setTimeout(() => void this.tick(), Math.min(Math.max(ms, 0), 2 ** 31 - 1));
    this.timer.unref();
  }

  /**
   * GET the directory first: acme-client 5 loses a network error's cause once its
   * retries run out (it throws "Cannot read properties of undefined (reading
   * 'config')"), and the operator needs to know what could not be reached.
   */
  private reachDirectory(agent: Agent): Promise<void> {
    return new Promise((resolve, reject) => {
      const req = httpsGet(this.config.directory, { agent, timeout: REQUEST_TIMEOUT_MS }, (res) => {
        res.resume();
        if (res.statusCode === 200) resolve();
        else reject(new Error(`the ACME directory ${this.config.directory} answered ${res.statusCode}`));
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
    });
  }

  private async order(): Promise<void> {
    // acme-client has one axios for the process: set every time, so a reload that drops `ca` drops it here too.
    const agent = new Agent(this.config.ca ? { ca: this.config.ca } : {});
    acme.axios.defaults.httpsAgent = agent;
    acme.axios.defaults.timeout = REQUEST_TIMEOUT_MS;
    // acme-client retries a refused connection 5 times over 75 s; the manager's own backoff takes over after two quick retries.
    Object.assign((acme.axios.defaults as { acmeSettings?: object }).acmeSettings ?? {}, { retryMaxAttempts: 2, retryDefaultDelay: 1 });
    acme.setLogger((message: string) => this.log.debug({ acme: message }, 'acme-client'));
    await this.reachDirectory(agent);
    let accountKey = this.store.accountKey();
    if (!accountKey) {
      accountKey = (await acme.crypto.createPrivateEcdsaKey()).toString();
      this.store.saveAccountKey(accountKey);
    }
    const client = new acme.Client({ directoryUrl: this.config.directory, accountKey });
    const [key, csr] = await acme.crypto.createCsr({ commonName: this.config.domains[0], altNames: this.config.domains }, await acme.crypto.createPrivateEcdsaKey());
    const cert = await client.auto({
      csr,
      email: this.config.email,
      termsOfServiceAgreed: true,
      challengePriority: ['http-01'],
      // The CA checks the challenge; checking it from here first would need this machine to resolve the names to itself.
      skipChallengeVerification: true,
      challengeCreateFn: async (_authz, challenge, keyAuthorization) => this.store.saveChallenge(challenge.token, keyAuthorization),
      challengeRemoveFn: async (_authz, challenge) => this.store.removeChallenge(challenge.token),
    });
    // Stored even if a reload stopped this manager meanwhile: the store is keyed by this config's CA and names.
    this.store.saveCertificate(key.toString(), cert);
  }
}

/** An error as an operator can act on it: what could not be reached, or what the CA said. */
function describe(err: unknown, directory: string): string {
  const e = err as Error & { code?: string };
  if (e.code && /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|ECONNABORTED|EHOSTUNREACH|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)$/.test(e.code)) {
    const hint = /CERT|VERIFY|ISSUER/.test(e.code) ? ' (a private CA? set tls.acme.ca to its PEM file)' : '';
    return `cannot reach the ACME directory ${directory}: ${e.code}${hint}`;
  }
  if (/reading 'config'/.test(e.message ?? '')) return `the ACME CA ${directory} stopped answering during the order (connection failed)`;
  return e.message ?? String(err);
}
