/**
 * The shape of config/portico.yaml, validated with zod. Keys are a contract
 * (../shared/DESIGN.md "Config shape"): later work extends them, never renames.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { parseDuration, parseSize } from './units.js';

const port = z.int().min(1).max(65535);
const name = z.string().regex(/^[A-Za-z0-9_.-]+$/, 'use letters, digits, "_", "-" or "."');

/** `8080`, `"127.0.0.1:9901"`, `"[::1]:9901"` or `":8080"` → `{host, port}`; no host means every address. */
const addressSchema = z.union([port, z.string()]).transform((value, ctx) => {
  if (typeof value === 'number') return { host: undefined as string | undefined, port: value };
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d+)$/.exec(value.trim());
  const portNumber = m ? Number(m[3]) : NaN;
  if (!m || !(portNumber >= 0 && portNumber <= 65535)) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a listen address: write a port (8080) or host:port ("127.0.0.1:9901", "[::1]:9901")` });
    return z.NEVER;
  }
  return { host: (m[1] ?? (m[2] || undefined)) as string | undefined, port: portNumber };
});

/**
 * A listener: an address, or `{address, proxy_protocol: true}` when an L4 load
 * balancer in front sends the PROXY protocol header with each connection.
 */
export const listenSchema = z
  .union([addressSchema, z.strictObject({ address: addressSchema, proxy_protocol: z.boolean().default(false) })])
  .transform((value) => ('address' in value ? { ...value.address, proxyProtocol: value.proxy_protocol } : { ...value, proxyProtocol: false }));
export type ListenAddress = z.output<typeof listenSchema>;

/** An upstream server: a URL string or `{url, weight}`; normalised to its origin. */
/** Servers found by DNS: every A/AAAA address of `dns`, on `port`, re-resolved as the records' TTL says. */
const dnsServerSchema = z.strictObject({
  dns: z.string().regex(/^[A-Za-z0-9.-]+$/, 'a DNS name, e.g. "backends.default.svc.cluster.local"'),
  port,
  resolve: z.literal(true, { message: 'resolve: true says the name is looked up (and looked up again as its TTL runs out)' }),
  weight: z.int().min(1).max(1000).default(1),
});

const serverSchema = z
  .union([z.string(), z.strictObject({ url: z.string(), weight: z.int().min(1).max(1000).default(1) }), dnsServerSchema])
  .transform((value, ctx) => {
    if (typeof value === 'object' && 'dns' in value) return { dns: value.dns.toLowerCase(), port: value.port, weight: value.weight };
    const { url, weight } = typeof value === 'string' ? { url: value, weight: 1 } : value;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      ctx.addIssue({ code: 'custom', message: `"${url}" is not a URL: write e.g. "http://10.0.0.5:4001"` });
      return z.NEVER;
    }
    if ((parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || (parsed.pathname !== '/' && parsed.pathname !== '') || parsed.search || parsed.hash) {
      ctx.addIssue({ code: 'custom', message: `"${url}" must be a plain http://host:port or https://host:port origin (no path or query)` });
      return z.NEVER;
    }
    return { url: parsed.origin, weight };
  });

/** An IPv4 or IPv6 address, or a CIDR block of them. */
const cidr = z.string().refine((text) => {
  const [address = '', prefix, ...rest] = text.trim().split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
}, { message: 'not an address or CIDR block: write e.g. "10.0.0.0/8", "192.168.1.10" or "fd00::/8"' });

/** A size string ("64KiB", "1MiB") → bytes. */
const size = z.string().transform((text, ctx) => {
  const bytes = parseSize(text);
  if (typeof bytes === 'string') {
    ctx.addIssue({ code: 'custom', message: bytes });
    return z.NEVER;
  }
  return bytes;
});

/** A duration string ("500ms", "2s") → milliseconds. */
const duration = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (typeof ms === 'string') {
    ctx.addIssue({ code: 'custom', message: ms });
    return z.NEVER;
  }
  return ms;
});

export const POLICY_NAMES = ['least-outstanding', 'round-robin', 'weighted-round-robin', 'p2c', 'hash'] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

/** `hash` policy key: "client" (the client address), "header:NAME" or "cookie:NAME". */
const hashKey = z.string().transform((text, ctx) => {
  const m = /^(client)$|^(header|cookie):([!#$%&'*+.^_`|~0-9A-Za-z-]+)$/.exec(text.trim());
  if (!m) {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a hash key: write "client", "header:NAME" or "cookie:NAME"` });
    return z.NEVER;
  }
  if (m[1]) return { source: 'client' as const, name: '' };
  // Header names are case-insensitive (Node lower-cases them); cookie names are not (RFC 6265).
  return m[2] === 'header' ? { source: 'header' as const, name: m[3]!.toLowerCase() } : { source: 'cookie' as const, name: m[3]! };
});

export const upstreamSchema = z.strictObject({
  policy: z.enum(POLICY_NAMES).default('least-outstanding'),
  hash: z
    .strictObject({
      key: hashKey.default({ source: 'client', name: '' }),
      /** Bounded load (Mirrokni et al.): no server takes more than this factor of the average in flight. */
      balance_factor: z.number().min(1).max(10).default(1.25),
    })
    .prefault({}),
  servers: z.array(serverSchema).default([]),
  /**
   * Requests in flight per server. "auto": a server that says what it can take is capped by it
   * (a Portico backend's /readyz reports its compute slots and queue: the cap is the slots plus up
   * to two it can hold queued, see autoCap; the local pool's backends start there from pool.slots
   * and pool.queue); any other server is uncapped, as in
   * nginx and HAProxy. A number caps every server of the upstream.
   */
  max_inflight: z.union([z.literal('auto'), z.int().min(1).max(100_000)]).default('auto'),
  queue: z
    .strictObject({
      /** Large by default: clients that resend at once after a 503 cost less waiting here than shed (docs/decisions.md). */
      size: z.int().min(0).max(1_000_000).default(1000),
      /** 2 s: half the 503s of 1 s from clients that resend at once, +11 % goodput measured (docs/decisions.md). */
      timeout: duration.default(2000),
      /**
       * "adaptive": oldest first, but newest first while more wait than the servers can serve
       * within the timeout (overload), so served requests skip a wait the oldest cannot survive
       * anyway (docs/decisions.md). "fifo": always oldest first, as HAProxy does.
       */
      order: z.enum(['adaptive', 'fifo']).default('adaptive'),
      /**
       * "cost": a waiter's place is its arrival plus the cost its target (method and URL) took
       * in its last answers, so cheap calls do not wait behind dear ones that came a little
       * earlier, and a call is overtaken only by calls that arrive within its own cost after it (issue 22,
       * docs/decisions.md). "arrival": by arrival alone, as HAProxy does.
       */
      priority: z.enum(['cost', 'arrival']).default('cost'),
    })
    .prefault({}),
  health: z
    .strictObject({
      /** Consecutive failed attempts (connect errors, resets, 502/504) that eject a server. */
      failures: z.int().min(1).max(1000).default(3),
      /** First ejection; each further one in a row doubles, up to max_eject. */
      eject: duration.default(1000),
      max_eject: duration.default(30_000),
      /**
       * Active checks: GET this path; "" turns them off. Default: "/readyz" for the pool's
       * upstream (Portico backends answer it), none for any other upstream (opt-in, as in
       * nginx, HAProxy, Caddy and Traefik: an origin without the path would look down).
       * Under that default, a listed server whose /readyz is a client error is checked once a minute only.
       */
      path: z.string().regex(/^(\/.*)?$/, 'a health-check path starts with "/" (or "" for none)').optional(),
      interval: duration.default(1000),
      timeout: duration.default(1000),
      rise: z.int().min(1).max(100).default(2),
      fall: z.int().min(1).max(100).default(2),
      /** A returning server's cap and weight ramp up over this long. */
      slow_start: duration.default(3000),
      /**
       * Passive ejection never takes out more than this share of the upstream's servers at
       * once, nor its last server that is up (Envoy's max_ejection_percent; nginx never marks
       * a group's only server down).
       */
      max_ejected_percent: z.int().min(0).max(100).default(50),
    })
    .prefault({}),
  retries: z
    .strictObject({
      attempts: z.int().min(0).max(10).default(2),
      /** Retries may add at most this fraction of the requests of the last 10 s (Envoy's retry budget). */
      budget: z.number().min(0).max(1).default(0.2),
      /** Retries always allowed per second, so a quiet upstream can still retry. */
      min_per_second: z.number().min(0).max(1000).default(3),
    })
    .prefault({}),
  /** For https:// servers: whom to trust, the name to verify, and our client certificate (mTLS). */
  tls: z
    .strictObject({
      /** PEM file of the CAs to trust instead of the system's. */
      ca: z.string().min(1).optional(),
      /** SNI and the name the certificate must carry; default: the server's host. */
      servername: z.string().min(1).optional(),
      /** Client certificate and key (PEM files), for servers that require one. */
      cert: z.string().min(1).optional(),
      key: z.string().min(1).optional(),
      /** false accepts any certificate: for tests only, never in production. */
      verify: z.boolean().default(true),
    })
    .refine((t) => (t.cert === undefined) === (t.key === undefined), { message: 'a client certificate needs both cert and key' })
    .optional(),
  timeouts: z
    .strictObject({
      /**
       * How long connecting may take before the attempt goes to another server. 5 s (Envoy's
       * default, HAProxy's usual setting): Linux retransmits a SYN dropped by a full backlog
       * after 1 s, so the earlier 1 s failed such connections (502 behind Python's http.server,
       * whose backlog is 5, under 16 clients). A refused connection fails at once either way.
       */
      connect: duration.default(5000),
      /** From sending the request to the response headers: a backend call may take this long. */
      response: duration.default(60_000),
    })
    .prefault({}),
});

/** A header field name (RFC 9110 token), lower-cased. */
const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'not a header name: letters, digits and -').transform((n) => n.toLowerCase());
/** A header value: no CR, LF or NUL (they would split or smuggle headers). */
const headerValue = z.string().regex(/^[^\r\n\0]*$/, 'a header value cannot contain CR, LF or NUL');
const headerEdits = z
  .strictObject({
    /** Replaces the field (or adds it). */
    set: z.record(headerName, headerValue).default({}),
    /** Adds a field line, keeping those already there. */
    add: z.record(headerName, headerValue).default({}),
    remove: z.array(headerName).default([]),
  })
  .prefault({});
/** "example.com" or "*.example.com"; matched without the port, case-insensitively. */
const hostPattern = z
  .string()
  .regex(/^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/, 'a host name ("api.example.com") or a wildcard ("*.example.com"), without a port')
  .transform((h) => h.toLowerCase());
/** "10/s", "600/m", "1/h" → requests per second. */
const rate = z.string().transform((text, ctx) => {
  const m = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(s|m|h)\s*$/.exec(text);
  if (!m || Number(m[1]) <= 0) {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a rate: write requests per second, minute or hour, e.g. "10/s" or "600/m"` });
    return z.NEVER;
  }
  return Number(m[1]) / { s: 1, m: 60, h: 3600 }[m[2] as 's' | 'm' | 'h'];
});

const routeSchema = z
  .strictObject({
    name: name.optional(),
    /** Host names this route answers (exact or "*.suffix"); none: any host (the default routes). */
    host: z.union([hostPattern.transform((h) => [h]), z.array(hostPattern).min(1)]).optional(),
    path: z.string().startsWith('/', 'a route path starts with "/"'),
    /** Rewrite the path sent upstream: drop the route's prefix, or put another in its place. */
    strip_prefix: z.boolean().default(false),
    replace_prefix: z.string().startsWith('/', 'a replacement prefix starts with "/"').optional(),
    request_headers: headerEdits,
    response_headers: headerEdits,
    /** On-the-fly gzip/Brotli for compressible responses: true, or { min_bytes, types }. */
    compress: z
      .union([
        z.boolean().transform((enabled) => ({ enabled, min_bytes: 1024, types: [] as string[] })),
        z.strictObject({ min_bytes: size.default(1024), types: z.array(z.string().regex(/^[a-z0-9.+-]+\/[a-z0-9.+*-]+$/i, 'a media type such as "text/html" or "text/*"')).default([]) })
          .transform((c) => ({ enabled: true, ...c })),
      ])
      .default({ enabled: false, min_bytes: 1024, types: [] }),
    upstream: name.optional(),
    static: z.string().min(1).optional(),
    /** Static routes: Cache-Control by path, first match wins: "/assets/" (prefix), "*.js" (suffix) or an exact path. */
    cache_control: z
      .array(z.strictObject({ match: z.string().regex(/^(\/|\*)/, 'a match is a path ("/assets/", "/index.html") or a suffix ("*.js")'), value: z.string() }))
      .default([]),
    /**
     * The shared response cache (RFC 9111) for an upstream route: true, or
     * { post: true } to also answer POSTs from it, keyed on a hash of the
     * normalised body (for origins whose POSTs are pure lookups).
     */
    cache: z
      .union([
        z.boolean().transform((enabled) => ({ enabled, post: false })),
        z.strictObject({ post: z.boolean().default(false) }).transform((c) => ({ enabled: true, post: c.post })),
      ])
      .default({ enabled: false, post: false }),
    limits: z
      .strictObject({
        /** Largest request body (nginx's client_max_body_size, same default); larger → 413. */
        max_body: size.default(1024 * 1024),
        /** Requests per client (the real client, after trusted proxies) on this route: a token bucket (nginx limit_req). */
        rate: rate.optional(),
        /** Requests a client may make at once beyond the rate (the bucket's size); default: one second's worth, at least 1. */
        burst: z.int().min(1).max(1_000_000).optional(),
        /** Requests in progress at once per client on this route (nginx limit_conn); more → 429. */
        concurrent: z.int().min(1).max(1_000_000).optional(),
      })
      .refine((l) => l.burst === undefined || l.rate !== undefined, { message: 'burst needs a rate: add limits.rate, e.g. "10/s"', path: ['burst'] })
      .prefault({}),
  })
  .refine((r) => (r.upstream === undefined) !== (r.static === undefined), {
    message: 'a route needs exactly one of "upstream" (a name under upstreams) or "static" (a directory)',
  })
  .refine((r) => !(r.strip_prefix && r.replace_prefix !== undefined), {
    message: 'give strip_prefix or replace_prefix, not both',
    path: ['replace_prefix'],
  })
  .refine((r) => r.static === undefined || (!r.strip_prefix && r.replace_prefix === undefined), {
    message: 'strip_prefix and replace_prefix rewrite what is sent upstream; a static route serves its directory from the route\'s path',
    path: ['static'],
  })
  .refine((r) => r.static === undefined || !r.cache.enabled, {
    message: 'cache applies to upstream routes; static files are served from disk with their own Cache-Control (cache_control)',
    path: ['cache'],
  })
  .transform((r) => ({ ...r, name: r.name ?? routeNameFromPath(r.host ? `${r.host[0]!.replace('*.', 'any.')}${r.path}` : r.path) }));

const poolSchema = z.strictObject({
  processes: z.union([z.literal('auto'), z.int().min(0).max(256)]).default('auto'),
  host: z.string().default('127.0.0.1'),
  /** 0: each backend takes a free port and the master tells the proxy (tests, parallel runs). */
  base_port: z.int().min(0).max(65535).default(4001),
  upstream: name.default('inference'),
  slots: z.int().min(1).max(256).default(1),
  queue: z.int().min(0).max(10_000).default(6),
  /** How long caches may keep a backend's result (Cache-Control max-age; results are pure functions of val); "0s" → no-store. */
  cache_max_age: duration.default(3_600_000),
});

export const configSchema = z
  .strictObject({
    listen: z
      .strictObject({
        http: listenSchema.default({ host: undefined, port: 8080, proxyProtocol: false }),
        /** Needs `tls`; default 8443 when `tls` is set (DEFAULT_HTTPS_LISTEN). */
        https: listenSchema.optional(),
        admin: listenSchema.default({ host: '127.0.0.1', port: 9901, proxyProtocol: false }),
      })
      .prefault({}),
    pool: poolSchema.prefault({}),
    tls: z
      .strictObject({
        /** A PEM file, or "auto" for a self-signed development certificate made on first run. */
        cert: z.string().min(1).optional(),
        key: z.string().min(1).optional(),
        /** Several certificates, chosen by SNI (the first is the default). */
        certificates: z.array(z.strictObject({ cert: z.string().min(1), key: z.string().min(1) })).optional(),
        /** Answer plain HTTP with a 308 to the HTTPS listener. */
        redirect_http: z.boolean().default(false),
        /** Strict-Transport-Security on HTTPS responses; "" for none. */
        hsts: z.string().default(''),
        /** Offer HTTP/2 by ALPN beside HTTP/1.1 (upstreams stay HTTP/1.1 keep-alive). */
        http2: z.boolean().default(true),
        /** Certificates ordered and renewed from an ACME CA (Let's Encrypt, or a private one), kept in `state_dir`. */
        acme: z
          .strictObject({
            /** The CA's directory URL, e.g. https://acme-v02.api.letsencrypt.org/directory. */
            directory: z.url({ protocol: /^https$/, message: 'the ACME directory\'s https:// URL (RFC 8555 requires HTTPS), e.g. https://acme-v02.api.letsencrypt.org/directory' }),
            /** The account's contact: the CA writes here about expiring certificates and policy changes. */
            email: z.email({ message: 'an email address for the ACME account, e.g. ops@example.com' }),
            /** The names of one certificate; each must reach this proxy's HTTP listener on port 80 (HTTP-01). */
            domains: z.array(z.string().regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$/i, 'a DNS name such as www.example.com (HTTP-01 cannot prove wildcards)')).min(1, 'name at least one domain'),
            /** PEM file of the CA that signs the directory's HTTPS certificate (a private ACME CA). */
            ca: z.string().min(1).optional(),
          })
          .optional(),
      })
      .refine((t) => !(t.cert !== undefined && t.certificates !== undefined), { message: 'give either cert (+ key, or cert: auto) or certificates: [{cert, key}], not both' })
      .refine((t) => !(t.cert === 'auto' && t.acme !== undefined), { message: 'cert: auto and acme exclude each other: acme serves a self-signed certificate itself until its first one arrives', path: ['acme'] })
      .refine((t) => t.cert !== undefined || t.certificates !== undefined || t.acme !== undefined, { message: 'give cert (+ key, or cert: auto), certificates: [{cert, key}], or acme: {directory, email, domains}' })
      .refine((t) => t.cert === undefined || t.cert === 'auto' || t.key !== undefined, { message: 'a cert file needs its key: add tls.key' })
      .optional(),
    dns: z
      .strictObject({
        /** host:port of the DNS server for `{dns, ...}` servers; the system's resolvers when absent. */
        resolver: z.string().optional(),
        /** Bounds on re-resolution: the records' TTL, clamped to [min_interval, max_interval]. */
        min_interval: duration.default(1000),
        max_interval: duration.default(30_000),
      })
      .prefault({}),
    /**
     * Where Portico keeps what it makes at run time (the development certificate): relative
     * to this file. Default: systemd's $STATE_DIRECTORY when set (StateDirectory=), else
     * ".portico" beside this file.
     */
    state_dir: z.string().min(1).optional(),
    /** Bearer token for the admin listener's mutating endpoints (POST /reload); required when it listens beyond loopback. */
    admin_token: z.string().min(16, 'use at least 16 characters').optional(),
    /** The same, read from a file (a mounted Secret); its surrounding whitespace is ignored. */
    admin_token_file: z.string().min(1).optional(),
    /** Path of the read-only public pool status the demo page polls (no addresses or secrets); "" turns it off. */
    public_status: z.string().regex(/^(\/.*)?$/, 'a path starting with "/", or "" for none').default('/_portico/status'),
    /** Peers whose X-Forwarded-For, Forwarded, X-Forwarded-* and X-Request-Id are believed (nginx set_real_ip_from). */
    trusted_proxies: z.array(cidr).default([]),
    /**
     * How many Portico proxies share the same backends (Kubernetes replicas behind
     * one L4 load balancer): each holds its own caps, so `max_inflight: auto` is
     * divided by this (at least 1 per server per proxy).
     */
    replicas: z.int().min(1).max(1000).default(1),
    proxy: z
      .strictObject({
        /**
         * Proxy processes sharing the listening sockets (nginx worker_processes); "auto": one
         * per core. Each has its own cache and its share of every `max_inflight: auto` cap.
         * A change applies at the next proxy restart (POST /proxy/restart, SIGUSR2).
         */
        workers: z.union([z.literal('auto'), z.int().min(1).max(64)]).default(1),
      })
      .prefault({}),
    /** Per-request metrics (off only to measure what they cost: npm run bench:hot-path). */
    metrics: z.boolean().default(true),
    /**
     * One JSON line per request (nginx's access_log): `true` writes it to stdout, `false` turns it
     * off (saves the proxy CPU under heavy load), `{ file: PATH }` appends to a file, reopened on
     * SIGUSR1 (logrotate's postrotate).
     */
    access_log: z.union([z.boolean(), z.strictObject({ file: z.string().min(1, 'give the access log file\'s path, e.g. /var/log/portico/access.log') })]).default(true),
    /**
     * OpenTelemetry traces (off when absent): spans of every request, its queue wait and upstream
     * attempts, exported over OTLP/HTTP (protobuf) in batches. `otlp` may be left out when
     * OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set.
     */
    tracing: z
      .strictObject({
        /** The collector's OTLP/HTTP traces URL, e.g. http://127.0.0.1:4318/v1/traces. */
        otlp: z.url({ protocol: /^https?$/, message: 'the collector\'s OTLP/HTTP traces URL, e.g. http://127.0.0.1:4318/v1/traces' }).optional(),
        /** Share of new traces recorded (a trace that arrives sampled or not keeps its parent's choice). */
        sample: z.number().min(0).max(1).default(1),
      })
      .optional(),
    client: z
      .strictObject({
        /** How long a client's keep-alive connection may sit idle between requests. */
        idle_timeout: duration.default(60_000),
        /** How long a client may take to send the request headers (slowloris). */
        header_timeout: duration.default(10_000),
        /** How long a client may take to send a whole request, body included. */
        request_timeout: duration.default(60_000),
        /** A proxied WebSocket with no traffic either way for this long is closed. */
        websocket_idle_timeout: duration.default(300_000),
        /** Header fields per request; more → 431 (Node alone would drop the extra ones silently). */
        max_headers: z.int().min(1).max(10_000).default(100),
        /** Request line and headers together; larger → 431. */
        max_header_bytes: size.default(16 * 1024),
      })
      .prefault({}),
    /** The response cache shared by the routes that set `cache` (nginx's proxy_cache_path). */
    cache: z
      .strictObject({
        /** Memory for stored responses, headers included; least recently used ones go first. */
        max_bytes: size.default(64 * 1024 * 1024),
        /** Larger responses pass through without being stored. */
        max_object_bytes: size.default(1024 * 1024),
        /** How long a miss waits for a concurrent fetch of the same URL before going upstream itself (proxy_cache_lock_timeout). */
        lock_timeout: duration.default(5000),
      })
      .prefault({}),
    upstreams: z.record(name, upstreamSchema).default({}),
    routes: z.array(routeSchema).min(1, 'list at least one route'),
  })
  .superRefine((config, ctx) => {
    if (config.listen.https !== undefined && config.tls === undefined) {
      // nginx refuses `listen 443 ssl` without ssl_certificate; silently serving no HTTPS would be worse.
      ctx.addIssue({ code: 'custom', path: ['listen', 'https'], message: 'an HTTPS listener needs a certificate: add tls: { cert: auto } (a self-signed development certificate), tls: { cert, key } or tls: { acme: … }; or remove listen.https' });
    }
    const adminHost = config.listen.admin.host;
    const loopback = adminHost !== undefined && (adminHost === 'localhost' || adminHost === '::1' || /^127\./.test(adminHost));
    if (config.admin_token !== undefined && config.admin_token_file !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['admin_token_file'], message: 'give admin_token or admin_token_file, not both' });
    }
    if (!loopback && config.admin_token === undefined && config.admin_token_file === undefined) {
      ctx.addIssue({ code: 'custom', path: ['listen', 'admin'], message: 'the admin listener is reachable beyond loopback: set admin_token (e.g. admin_token: ${PORTICO_ADMIN_TOKEN}) or admin_token_file, or listen on 127.0.0.1' });
    }
    const seen = new Set<string>();
    config.routes.forEach((route, i) => {
      if (seen.has(route.name)) {
        ctx.addIssue({ code: 'custom', path: ['routes', i, 'name'], message: `route name "${route.name}" is used twice; names label metrics and must be unique` });
      }
      seen.add(route.name);
      if (route.upstream !== undefined && !(route.upstream in config.upstreams) && route.upstream !== config.pool.upstream) {
        const known = [...new Set([...Object.keys(config.upstreams), config.pool.upstream])].join(', ');
        ctx.addIssue({ code: 'custom', path: ['routes', i, 'upstream'], message: `no upstream named "${route.upstream}" (known: ${known})` });
      }
    });
  });

/** Where HTTPS listens when `tls` is set and `listen.https` is not. */
export const DEFAULT_HTTPS_LISTEN = { host: undefined, port: 8443, proxyProtocol: false } as const;

export type PorticoConfigInput = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;

/** "/api/" → "api", "/" → "root": a stable metrics label for routes without a name. */
export function routeNameFromPath(path: string): string {
  const slug = path.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  return slug || 'root';
}
