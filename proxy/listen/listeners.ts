/**
 * The client-facing listeners (HTTP, and HTTPS when `tls` is set), opened from
 * the config and changed by a reload without closing a connection: limits are
 * updated in place, new certificates are swapped in, and a listener whose
 * address changed is opened anew before the old one stops accepting and
 * drains (its keep-alive connections and WebSockets finish where they are).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import type { PorticoConfig } from '../../lib/config/load.js';
import type { ListenAddress } from '../../lib/config/schema.js';
import { proxyProtocolFront } from './proxy-protocol.js';
import { type Drainer, trackConnections } from '../../lib/drain.js';
import type { Logger } from '../../lib/log.js';
import type { Certificate } from '../../lib/certificates.js';
import { ensureDevCertificate, keepDevCertificateFresh } from './dev-cert.js';
import { onConnect } from './client-error.js';
import { createTlsListener, type TlsListener, type TlsServer } from './tls-listener.js';
import { EditedResponse } from '../request/edited-response.js';
import { listenOn, releaseToMaster } from './master-socket.js';
import { answerChallenge, CHALLENGE_PREFIX } from '../acme/challenge.js';
import { challengesDir } from '../acme/store.js';

/** A client listener: plain HTTP, or the TLS one (HTTP/2 with HTTP/1.1, or HTTP/1.1 alone). */
type ClientServer = Server | TlsServer;

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface ListenerDeps {
  serve: Handler;
  upgrade: (req: IncomingMessage, socket: Socket, head: Buffer) => void;
  rejectMalformed: (err: NodeJS.ErrnoException, socket: Socket) => void;
  /** Counts a request refused before the handler (portico_rejected_requests_total{reason}). */
  countRejected: (reason: string) => void;
  onTlsReload: (ok: boolean) => void;
  /** The stored ACME certificate's files, once there is one (`tls.acme`). */
  acmeFiles: (acme: NonNullable<NonNullable<PorticoConfig['tls']>['acme']>) => { cert: string; key: string } | undefined;
  onProxyProtocolError: (reason: string) => void;
  log: Logger;
  /** The config in force: handlers read redirect and HSTS from it per request. */
  config: () => PorticoConfig;
}

/** Node server options from `client:` limits. */
function serverOptions(client: PorticoConfig['client']) {
  return {
    keepAliveTimeout: client.idle_timeout,
    headersTimeout: client.header_timeout,
    requestTimeout: Math.max(client.request_timeout, client.header_timeout),
    maxHeaderSize: client.max_header_bytes,
    // One more than allowed, so the handler can tell "too many" from "exactly enough" and answer 431.
    maxHeadersCount: client.max_headers + 1,
    // Node checks these timeouts on a sweep, every 30 s by default: a slowloris would get 30 s, not header_timeout.
    connectionsCheckingInterval: Math.min(1000, Math.max(100, client.header_timeout / 2)),
  };
}

export class Listeners {
  http?: Server;
  tls?: TlsListener;
  private readonly drainers = new Map<ClientServer, Drainer>();
  /** TCP fronts reading the PROXY protocol header, for listeners that have one. */
  private readonly fronts = new Map<ClientServer, NetServer>();
  private readonly retiring: Array<Promise<void>> = [];
  /** Each listener's config key and address as asked for (a master holds its socket under them). */
  private readonly requested = new Map<ClientServer, { key: string; address: ListenAddress }>();
  private stopRenewal: (() => void) | undefined;

  constructor(private readonly deps: ListenerDeps) {}

  get httpsPort(): number | undefined {
    return this.address(this.tls?.server)?.port;
  }

  certificates(): Certificate[] {
    return this.tls?.certificates() ?? [];
  }

  /** Opens the listeners `next` asks for, or applies its changes to the open ones. Throws, changing nothing it cannot undo, when a new address cannot be bound. */
  async apply(next: PorticoConfig, previous?: PorticoConfig): Promise<void> {
    const options = serverOptions(next.client);
    for (const server of [this.http, this.tls?.server]) if (server) Object.assign(server, options);

    const httpMoved = !previous || JSON.stringify(previous.listen.http) !== JSON.stringify(next.listen.http);
    let http = this.http;
    if (httpMoved) http = await this.open(createServer({ ...options, ServerResponse: EditedResponse }, this.httpHandler()), next.listen.http, 'listen.http');

    let tls = this.tls;
    try {
      if (next.tls) {
        const pairs = await this.certificatePairs(next.tls);
        const httpsMoved = !previous?.tls || !tls || JSON.stringify(previous.listen.https) !== JSON.stringify(next.listen.https) || previous.tls.http2 !== next.tls.http2;
        if (httpsMoved) {
          tls = createTlsListener(pairs, this.httpsHandler(), this.deps.log, options, this.deps.onTlsReload, next.tls.http2);
          await this.open(tls.server, next.listen.https, 'listen.https').catch((err: Error) => { tls!.close(); throw err; });
        } else if (JSON.stringify(previous?.tls) !== JSON.stringify(next.tls)) {
          tls!.setCertificates(pairs);
        }
      } else {
        tls = undefined;
      }
    } catch (err) {
      if (http !== this.http && http) void this.retire(http);
      throw err;
    }
    if (http !== this.http && this.http) this.retiring.push(this.retire(this.http));
    if (tls !== this.tls && this.tls) {
      this.tls.close();
      this.retiring.push(this.retire(this.tls.server));
    }
    this.http = http;
    this.tls = tls;
    this.stopRenewal?.();
    this.stopRenewal = next.tls?.auto ? this.renewDevCertificate(next.tls.autoDir) : undefined;
  }

  /** The certificate files to serve: the configured ones, then the ACME one once stored; a self-signed one until there is any. */
  private async certificatePairs(tls: NonNullable<PorticoConfig['tls']>): Promise<Array<{ cert: string; key: string }>> {
    if (tls.auto) return [await ensureDevCertificate(tls.autoDir)];
    const acme = tls.acme ? this.deps.acmeFiles(tls.acme) : undefined; // the config being applied, not the one in force
    const pairs = [...tls.certificates, ...(acme ? [acme] : [])];
    if (pairs.length > 0) return pairs;
    this.deps.log.warn({ domains: tls.acme?.domains }, 'no ACME certificate yet: serving a self-signed one until the first order completes');
    return [await ensureDevCertificate(tls.autoDir)];
  }

  /** The ACME certificate was stored (first order, renewal, or another proxy's): serve it. */
  async refreshCertificates(): Promise<void> {
    const tls = this.deps.config().tls;
    if (!tls || !this.tls) return;
    try {
      this.tls.setCertificates(await this.certificatePairs(tls));
      this.deps.onTlsReload(true);
    } catch (err) {
      this.deps.log.error({ error: (err as Error).message }, 'the new ACME certificate cannot be served; keeping the current certificates');
      this.deps.onTlsReload(false);
    }
  }

  /** `tls.cert: auto`: renewed in place while running, well before its expiry alert (dev-cert.ts). */
  private renewDevCertificate(dir: string): () => void {
    return keepDevCertificateFresh(dir, (files) => {
      this.tls?.setCertificates([{ cert: files.cert, key: files.key }]);
      this.deps.log.info({ dir }, 'development certificate renewed');
      this.deps.onTlsReload(true);
    }, (err) => {
      this.deps.log.error({ dir, error: err.message }, 'development certificate renewal failed; keeping the current one');
      this.deps.onTlsReload(false);
    });
  }

  /** Stops accepting everywhere and resolves when every connection has finished. */
  async drain(): Promise<void> {
    this.stopRenewal?.();
    this.tls?.close();
    for (const front of this.fronts.values()) front.close();
    await Promise.all([...[...this.drainers.values()].map((d) => d.drain()), ...this.retiring]);
  }

  private httpHandler(): Handler {
    return (req, res) => {
      const tls = this.deps.config().tls;
      // ACME's HTTP-01 comes before redirect_http, routes and limits: the CA must reach it on plain HTTP.
      if (tls?.acme && req.url?.startsWith(CHALLENGE_PREFIX)) return void answerChallenge(req, res, challengesDir(tls.acme.stateDir));
      if (tls?.redirectHttp) this.redirect(req, res);
      else this.deps.serve(req, res);
    };
  }

  private httpsHandler(): Handler {
    return (req, res) => {
      // HTTP/2 names the host in :authority; everything downstream reads Host.
      if (req.httpVersionMajor === 2 && req.headers.host === undefined) req.headers.host = req.headers[':authority'] as string | undefined;
      const hsts = this.deps.config().tls?.hsts;
      if (hsts) res.setHeader('Strict-Transport-Security', hsts);
      this.deps.serve(req, res);
    };
  }

  /** `tls.redirect_http`: plain HTTP answers 308 to the same path on the HTTPS listener. */
  private redirect(req: IncomingMessage, res: ServerResponse): void {
    const host = (req.headers.host ?? 'localhost').replace(/:\d+$/, '');
    const port = this.httpsPort ?? 443;
    res.writeHead(308, { Location: `https://${host}${port === 443 ? '' : `:${port}`}${req.url ?? '/'}`, 'Content-Length': 0 }).end();
  }

  /** Listens on `address`; a bind failure throws a ListenError naming the address and `key`. */
  private async open<S extends ClientServer>(server: S, address: ListenAddress, key: string): Promise<S> {
    server.on('clientError', this.deps.rejectMalformed);
    server.on('connect', onConnect(this.deps.countRejected));
    server.on('upgrade', this.deps.upgrade);
    this.drainers.set(server, trackConnections(server));
    const front = address.proxyProtocol ? proxyProtocolFront(server, this.deps.onProxyProtocolError) : undefined;
    const listening: NetServer = front ?? server;
    try {
      await listenOn(listening, key, address.host, address.port);
    } catch (err) {
      this.drainers.delete(server);
      throw err;
    }
    this.requested.set(server, { key, address });
    if (front) this.fronts.set(server, front);
    return server;
  }

  /** Where a listener accepts connections (its PROXY protocol front, if it has one). */
  address(server: ClientServer | undefined): AddressInfo | undefined {
    if (!server) return undefined;
    return ((this.fronts.get(server) ?? server).address() as AddressInfo | null) ?? undefined;
  }

  private async retire(server: ClientServer): Promise<void> {
    const drainer = this.drainers.get(server);
    this.drainers.delete(server);
    const address = this.address(server);
    this.fronts.get(server)?.close();
    this.fronts.delete(server);
    const drained = drainer?.drain({ keepUpgraded: true }); // stops accepting at once; resolves when the connections have finished
    // Give the socket back now, not after the drain: while the master keeps it, new connections would wait there unanswered.
    const requested = this.requested.get(server);
    this.requested.delete(server);
    if (requested) releaseToMaster(requested.key, requested.address.host, requested.address.port);
    await drained;
    this.deps.log.info({ address }, 'old listener drained');
  }
}
