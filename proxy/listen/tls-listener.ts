/**
 * The HTTPS listener: TLS 1.2 and later with modern cipher suites only, ALPN,
 * certificates chosen by SNI, and certificate files reloaded when their content
 * as read through their paths changes (any event in their directories, and a
 * poll: tools that replace files by rename, and Kubernetes Secrets that swap a
 * symlinked `..data` directory, are seen), without a restart and without
 * dropping connections.
 */
import { createServer, type Server as HttpsServer, type ServerOptions } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createSecureServer, type Http2SecureServer } from 'node:http2';
import { EditedHttp2Response, EditedResponse } from '../request/edited-response.js';
import { createSecureContext, type SecureContext } from 'node:tls';
import { type Certificate, nameMatches, readCertificate } from '../../lib/certificates.js';
import { type ContentWatcher, watchContent } from '../../lib/content-watch.js';
import type { Logger } from '../../lib/log.js';

/** Mozilla's "intermediate" TLS 1.2 suites (forward secret AEAD only); TLS 1.3 suites are Node's defaults. */
const CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');
const TLS_OPTIONS = { minVersion: 'TLSv1.2', ciphers: CIPHERS, honorCipherOrder: true } as const;

interface Loaded {
  certificate: Certificate;
  context: SecureContext;
}

/** With HTTP/2 on, a node:http2 server that also speaks HTTP/1.1 (allowHTTP1), so it has every http.Server event we use. */
export type TlsServer = HttpsServer | Http2SecureServer;

export interface TlsListener {
  server: TlsServer;
  /** The certificates in use now (for metrics and status). */
  certificates(): Certificate[];
  /** Serves other certificate files from now on (a config reload); throws, changing nothing, if they are bad. */
  setCertificates(pairs: Array<{ cert: string; key: string }>): void;
  close(): void;
}

export function createTlsListener(
  pairs: Array<{ cert: string; key: string }>,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  log: Logger,
  httpOptions: ServerOptions & { maxHeadersCount?: number } = {},
  onReload?: (ok: boolean) => void,
  http2 = false,
): TlsListener {
  let loaded = load(pairs);
  const tls = {
    ...TLS_OPTIONS,
    cert: loaded[0]!.certificate.cert,
    key: loaded[0]!.certificate.key,
    SNICallback: (servername: string, done: (err: Error | null, context?: SecureContext) => void) => done(null, pick(loaded, servername).context),
  };
  const server: TlsServer = http2
    ? createSecureServer({
      ...tls, allowHTTP1: true, ALPNProtocols: ['h2', 'http/1.1'],
      // Responses that carry a route's header edits (request/edited-response.ts).
      Http1ServerResponse: EditedResponse, Http2ServerResponse: EditedHttp2Response,
      // The HTTP/2 counterparts of the client limits: header fields (plus the 4 pseudo-headers) and their size.
      maxHeaderListPairs: (httpOptions.maxHeadersCount ?? 100) + 4,
      settings: { maxHeaderListSize: httpOptions.maxHeaderSize ?? 16 * 1024 },
    }, handler as never)
    : createServer({ ...httpOptions, ...tls, ALPNProtocols: ['http/1.1'], ServerResponse: EditedResponse }, handler);
  // HTTP/1.1 over the HTTP/2 server uses node:http's own timeouts and limits, set as properties.
  // HTTP/2 sessions close after this long without a frame: idle time plus the longest a request may take.
  if (http2) Object.assign(server, httpOptions, { timeout: (httpOptions.keepAliveTimeout ?? 0) + (httpOptions.requestTimeout ?? 0) });

  const use = (next: Loaded[]) => {
    loaded = next;
    server.setSecureContext({ ...TLS_OPTIONS, cert: next[0]!.certificate.cert, key: next[0]!.certificate.key });
    log.info({ certificates: next.map((l) => ({ name: l.certificate.label, notAfter: l.certificate.notAfter })) }, 'certificates reloaded');
  };
  const reload = () => {
    try {
      use(load(pairs));
      onReload?.(true);
    } catch (err) {
      log.error({ error: (err as Error).message }, 'certificate reload failed; keeping the current certificates');
      onReload?.(false);
    }
  };
  // Writers touch a file several times, and cert and key change together: 200 ms of quiet, then one reload if the content changed.
  const watchFiles = () => watchContent(pairs.flatMap((p) => [p.cert, p.key]), reload, { debounceMs: 200, pollMs: 2000 });
  let watcher: ContentWatcher = watchFiles();

  return {
    server,
    certificates: () => loaded.map((l) => l.certificate),
    setCertificates: (next) => {
      use(load(next));
      pairs = next;
      watcher.stop();
      watcher = watchFiles();
    },
    close: () => watcher.stop(),
  };
}

function load(pairs: Array<{ cert: string; key: string }>): Loaded[] {
  return pairs.map(({ cert, key }) => {
    const certificate = readCertificate(cert, key);
    return { certificate, context: createSecureContext({ ...TLS_OPTIONS, cert: certificate.cert, key: certificate.key }) };
  });
}

/** The first certificate naming `servername` exactly, else the first whose wildcard covers it; else the first one (the default). */
export function pick<T extends { certificate: Pick<Certificate, 'names'> }>(loaded: T[], servername: string): T {
  const host = servername.toLowerCase();
  return loaded.find((l) => l.certificate.names.includes(host))
    ?? loaded.find((l) => l.certificate.names.some((name) => nameMatches(name, servername)))
    ?? loaded[0]!;
}
