/**
 * Loads config/portico.yaml: parse, validate, then resolve what depends on the
 * machine or the file's location (pool size, local backend URLs, static paths).
 */
import { readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { readCertificate } from '../certificates.js';
import { PROJECT_ROOT } from '../paths.js';
import { substituteEnv } from './env.js';
import { ConfigError, problemsFromIssues } from './errors.js';
import { configSchema, DEFAULT_HTTPS_LISTEN, type ParsedConfig, upstreamSchema } from './schema.js';

export { ConfigError } from './errors.js';

/** The shipped defaults, used when neither --config nor PORTICO_CONFIG is given. */
export const DEFAULT_CONFIG_FILE = resolve(PROJECT_ROOT, 'config/portico.yaml');

export interface UpstreamServer {
  url: string;
  weight: number;
  /** A backend of the supervised pool (the master reports its state). */
  local: boolean;
}

/** Servers to find by DNS: each address of `name` becomes `http://address:port`. */
export interface DnsServers {
  name: string;
  port: number;
  weight: number;
}

/** An upstream as configured: policy, caps, queue, health, retries, timeouts, and its servers. */
/** An upstream's TLS settings with the files read (see proxy/forward/upstream-tls.ts). */
export interface UpstreamTls {
  ca?: string;
  cert?: string;
  key?: string;
  servername?: string;
  rejectUnauthorized: boolean;
}

type ParsedUpstream = ParsedConfig['upstreams'][string];

export type UpstreamConfig = Omit<ParsedUpstream, 'servers' | 'tls' | 'health'> & {
  /**
   * `path` resolved: the pool's upstream checks /readyz unless told otherwise, others nothing ("" = no active checks).
   * `readyzByDefault`: the path is that default, not the user's; a listed server that answers it
   * as no Portico backend does is then treated as a plain HTTP server (proxy/balancer/health.ts).
   */
  health: ParsedUpstream['health'] & { path: string; readyzByDefault: boolean };
  tls: UpstreamTls | undefined;
  name: string;
  servers: UpstreamServer[];
  dns: DnsServers[];
};

export interface PoolConfig {
  processes: number;
  host: string;
  basePort: number;
  upstream: string;
  slots: number;
  queue: number;
  /** Seconds of Cache-Control max-age the backends put on results; 0 → no-store. */
  cacheMaxAge: number;
  /** URLs of the local backends, the first on `basePort`; empty when basePort is 0 (ports picked at run time). */
  servers: string[];
}

export type RouteConfig = ParsedConfig['routes'][number];

/** TLS as resolved: certificate pairs with absolute paths, or the development certificate. */
export interface TlsConfig {
  /** Absolute paths; empty when `auto`. */
  certificates: Array<{ cert: string; key: string }>;
  /** Generate (once) and use a self-signed development certificate in `autoDir` (the state directory). */
  auto: boolean;
  autoDir: string;
  redirectHttp: boolean;
  hsts: string;
  http2: boolean;
  /** `tls.acme`: certificates ordered and renewed from an ACME CA, kept under `stateDir`. */
  acme?: AcmeConfig;
}

export interface AcmeConfig {
  directory: string;
  email: string;
  domains: string[];
  /** PEM text of the CA that signs the directory's HTTPS certificate, when it is a private one. */
  ca?: string;
  /** Where accounts, keys, certificates and pending challenges are kept (the config's state directory). */
  stateDir: string;
}

export interface TracingConfig {
  /** The collector's OTLP/HTTP traces URL; undefined: the exporter reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT. */
  otlp: string | undefined;
  /** Share of new traces recorded (parent-based). */
  sample: number;
}

export interface PorticoConfig {
  file: string;
  listen: ParsedConfig['listen'] & { https: NonNullable<ParsedConfig['listen']['https']> };
  client: ParsedConfig['client'];
  accessLog: boolean;
  /** Where the access log goes when not stdout. */
  accessLogFile: string | undefined;
  /** OpenTelemetry tracing, when on. */
  tracing: TracingConfig | undefined;
  metrics: boolean;
  replicas: number;
  /** Proxy processes the master runs on its sockets (`proxy.workers`, "auto" resolved to the cores). */
  proxyWorkers: number;
  dns: ParsedConfig['dns'];
  adminToken: string | undefined;
  publicStatus: string;
  trustedProxies: string[];
  cache: ParsedConfig['cache'];
  tls: TlsConfig | undefined;
  pool: PoolConfig;
  upstreams: Map<string, UpstreamConfig>;
  routes: RouteConfig[];
}

/** Which file to load: the --config flag, then PORTICO_CONFIG, then the shipped defaults. */
export function configFilePath(flag?: string, env = process.env): string {
  return resolve(flag ?? env.PORTICO_CONFIG ?? DEFAULT_CONFIG_FILE);
}

/**
 * Reads and validates a config file.
 * @throws ConfigError naming the file, line and key of every problem.
 * @example const config = loadConfig('config/portico.yaml');
 */
export function loadConfig(file: string): PorticoConfig {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [{ key: '', message: `cannot read the file: ${(err as Error).message}` }]);
  }
  return parseConfig(text, path);
}

/** Validates config text as if it were read from `file` (paths in it are relative to the file). */
export function parseConfig(raw: string, file: string, env: NodeJS.ProcessEnv = process.env): PorticoConfig {
  const { text, missing } = substituteEnv(raw, env);
  if (missing.length > 0) {
    const lineOf = new LineCounter();
    parseDocument(raw, { lineCounter: lineOf });
    throw new ConfigError(file, missing.map((m) => ({
      key: '', ...lineOf.linePos(m.offset), message: `environment variable ${m.name} is not set: set it, or give a default as \${${m.name}:-value}`,
    })));
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(file, doc.errors.map((e) => ({
      key: '', ...lines.linePos(e.pos[0]), message: `YAML: ${e.message.split('\n')[0]}`,
    })));
  }
  let data: unknown;
  try {
    data = doc.toJS() ?? {};
  } catch (err) {
    // What the parser accepts but cannot turn into values: an alias to no anchor ("*name"), alias loops.
    throw new ConfigError(file, [{ key: '', message: `YAML: ${(err as Error).message.split('\n')[0]}` }]);
  }
  const result = configSchema.safeParse(data);
  if (!result.success) throw new ConfigError(file, problemsFromIssues(result.error.issues, doc, lines, configSchema));
  return resolveConfig(result.data, file, env);
}

function resolveConfig(parsed: ParsedConfig, file: string, env: NodeJS.ProcessEnv): PorticoConfig {
  const dir = dirname(file);
  const processes = parsed.pool.processes === 'auto' ? availableParallelism() : parsed.pool.processes;
  const hostInUrl = parsed.pool.host.includes(':') ? `[${parsed.pool.host}]` : parsed.pool.host;
  const pool: PoolConfig = {
    processes,
    host: parsed.pool.host,
    basePort: parsed.pool.base_port,
    upstream: parsed.pool.upstream,
    slots: parsed.pool.slots,
    queue: parsed.pool.queue,
    cacheMaxAge: Math.floor(parsed.pool.cache_max_age / 1000),
    servers: parsed.pool.base_port === 0 ? [] : Array.from({ length: processes }, (_, i) => `http://${hostInUrl}:${parsed.pool.base_port + i}`),
  };
  if (pool.basePort > 0 && pool.basePort + processes - 1 > 65535) {
    throw new ConfigError(file, [{ key: 'pool.base_port', message: `${processes} backends from port ${pool.basePort} run past 65535` }]);
  }

  const upstreams = new Map<string, UpstreamConfig>();
  for (const [name, u] of Object.entries(parsed.upstreams)) {
    const listed = u.servers.flatMap((s) => (s.url !== undefined ? [{ url: s.url, weight: s.weight, local: false }] : []));
    const dns = u.servers.flatMap((s) => (s.dns !== undefined ? [{ name: s.dns, port: s.port!, weight: s.weight }] : []));
    const path = u.health.path ?? defaultHealthPath(name, pool.upstream);
    const health = { ...u.health, path, readyzByDefault: u.health.path === undefined && path !== '' };
    upstreams.set(name, { ...u, health, tls: resolveUpstreamTls(u.tls, dir, file, `upstreams.${name}.tls`), name, servers: listed, dns });
  }
  const poolUpstream = upstreams.get(pool.upstream) ?? defaultPoolUpstream(pool.upstream);
  const listed = new Set(poolUpstream.servers.map((s) => s.url));
  for (const url of pool.servers) {
    if (listed.has(url)) {
      throw new ConfigError(file, [{ key: `upstreams.${pool.upstream}.servers`, message: `${url} is a local pool backend already; remove it from the list` }]);
    }
    poolUpstream.servers.push({ url, weight: 1, local: true });
  }
  upstreams.set(pool.upstream, poolUpstream);

  const routes = parsed.routes.map((route, i) => {
    if (route.static === undefined) return route;
    const staticDir = resolve(dir, route.static);
    if (!isDirectory(staticDir)) {
      throw new ConfigError(file, [{ key: `routes[${i}].static`, message: `${staticDir} is not a directory` }]);
    }
    return { ...route, static: staticDir };
  });
  const accessLogFile = typeof parsed.access_log === 'object' ? resolve(dir, parsed.access_log.file) : undefined;
  if (accessLogFile !== undefined && !isDirectory(dirname(accessLogFile))) {
    throw new ConfigError(file, [{ key: 'access_log.file', message: `${dirname(accessLogFile)} is not a directory: create it, or name a file in an existing one` }]);
  }
  const tracing = parsed.tracing && tracingOf(parsed.tracing, file, env);
  return { file, listen: { ...parsed.listen, https: parsed.listen.https ?? DEFAULT_HTTPS_LISTEN }, client: parsed.client, accessLog: parsed.access_log !== false, accessLogFile, tracing, metrics: parsed.metrics, replicas: parsed.replicas, proxyWorkers: parsed.proxy.workers === 'auto' ? Math.min(availableParallelism(), 64) : parsed.proxy.workers, dns: parsed.dns, adminToken: parsed.admin_token ?? readAdminToken(parsed.admin_token_file, dir, file), publicStatus: parsed.public_status, trustedProxies: parsed.trusted_proxies, cache: parsed.cache, tls: resolveTls(parsed.tls, dir, file, stateDirOf(parsed.state_dir, dir, env)), pool, upstreams, routes };
}

/** Active checks are on by default only where the servers are known to answer them: Portico backends. */
function defaultHealthPath(upstream: string, poolUpstream: string): string {
  return upstream === poolUpstream ? '/readyz' : '';
}

/** The pool's upstream when the file does not list it: the schema's defaults. */
function defaultPoolUpstream(name: string): UpstreamConfig {
  const parsed = upstreamSchema.parse({});
  return { ...parsed, health: { ...parsed.health, path: defaultHealthPath(name, name), readyzByDefault: true }, tls: undefined, name, servers: [], dns: [] };
}

/** The state directory: the config's `state_dir`, else systemd's $STATE_DIRECTORY (its first path), else .portico beside the config. */
function stateDirOf(stateDir: string | undefined, dir: string, env: NodeJS.ProcessEnv): string {
  if (stateDir !== undefined) return resolve(dir, stateDir);
  const systemd = env.STATE_DIRECTORY?.split(':')[0];
  return systemd ? resolve(systemd) : resolve(dir, '.portico');
}

function resolveTls(tls: ParsedConfig['tls'], dir: string, file: string, stateDir: string): TlsConfig | undefined {
  if (!tls) return undefined;
  const auto = tls.cert === 'auto';
  const pairs = auto ? [] : (tls.certificates ?? (tls.cert !== undefined ? [{ cert: tls.cert, key: tls.key! }] : []));
  const certificates = pairs.map((pair, i) => {
    const where = tls.certificates ? `tls.certificates[${i}]` : 'tls';
    const resolved = { cert: resolve(dir, pair.cert), key: resolve(dir, pair.key) };
    try {
      readCertificate(resolved.cert, resolved.key);
    } catch (err) {
      throw new ConfigError(file, [{ key: `${where}.cert`, message: (err as Error).message }]);
    }
    return resolved;
  });
  let acme: AcmeConfig | undefined;
  if (tls.acme) {
    let ca: string | undefined;
    if (tls.acme.ca !== undefined) {
      const caFile = resolve(dir, tls.acme.ca);
      try {
        ca = readFileSync(caFile, 'utf8');
        if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new Error('not a PEM certificate');
      } catch (err) {
        throw new ConfigError(file, [{ key: 'tls.acme.ca', message: `cannot use ${caFile}: ${(err as Error).message}` }]);
      }
    }
    acme = { directory: tls.acme.directory, email: tls.acme.email, domains: tls.acme.domains.map((d) => d.toLowerCase()), ca, stateDir };
  }
  return { certificates, auto, autoDir: stateDir, redirectHttp: tls.redirect_http, hsts: tls.hsts, http2: tls.http2, acme };
}

function readAdminToken(name: string | undefined, dir: string, file: string): string | undefined {
  if (name === undefined) return undefined;
  let token: string;
  try {
    token = readFileSync(resolve(dir, name), 'utf8').trim();
  } catch (err) {
    throw new ConfigError(file, [{ key: 'admin_token_file', message: `cannot read ${resolve(dir, name)}: ${(err as Error).message}` }]);
  }
  if (token.length < 16) throw new ConfigError(file, [{ key: 'admin_token_file', message: `the token in ${resolve(dir, name)} is shorter than 16 characters` }]);
  return token;
}

/** Reads the PEM files an upstream's `tls` names, so that a reload picks up new ones and a missing one is a config error. */
function resolveUpstreamTls(tls: ParsedConfig['upstreams'][string]['tls'], dir: string, file: string, where: string): UpstreamTls | undefined {
  if (!tls) return undefined;
  const read = (key: 'ca' | 'cert' | 'key') => {
    const name = tls[key];
    if (name === undefined) return undefined;
    try {
      const text = readFileSync(resolve(dir, name), 'utf8');
      if (!text.includes('-----BEGIN ')) throw new Error('not a PEM file');
      return text;
    } catch (err) {
      throw new ConfigError(file, [{ key: `${where}.${key}`, message: `cannot use ${resolve(dir, name)}: ${(err as Error).message}` }]);
    }
  };
  return { ca: read('ca'), cert: read('cert'), key: read('key'), servername: tls.servername, rejectUnauthorized: tls.verify };
}

/** `tracing`, unless OTEL_SDK_DISABLED=true turns it off (the SDK's own switch). */
function tracingOf(tracing: NonNullable<ParsedConfig['tracing']>, file: string, env: NodeJS.ProcessEnv): TracingConfig | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  if (tracing.otlp === undefined && !env.OTEL_EXPORTER_OTLP_ENDPOINT && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) {
    throw new ConfigError(file, [{ key: 'tracing.otlp', message: 'give the collector\'s OTLP/HTTP traces URL (e.g. http://127.0.0.1:4318/v1/traces), or set OTEL_EXPORTER_OTLP_ENDPOINT' }]);
  }
  return { otlp: tracing.otlp, sample: tracing.sample };
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
