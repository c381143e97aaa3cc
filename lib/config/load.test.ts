import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_CONFIG_FILE, loadConfig, parseConfig } from './load.js';

const dir = mkdtempSync(join(tmpdir(), 'portico-config-'));
mkdirSync(join(dir, 'www'));
const file = join(dir, 'portico.yaml');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const minimal = `
pool: { processes: 2 }
routes:
  - { path: /api/, upstream: inference }
  - { path: /, static: www }
`;

function problemOf(text: string): string {
  try {
    parseConfig(text, file);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('loads the shipped defaults', () => {
    const config = loadConfig(DEFAULT_CONFIG_FILE);
    expect(config.listen.http).toEqual({ host: undefined, port: 8080, proxyProtocol: false });
    expect(config.listen.admin).toEqual({ host: '127.0.0.1', port: 9901, proxyProtocol: false });
    expect(config.pool.upstream).toBe('inference');
    expect(config.routes.map((r) => r.name)).toEqual(['api', 'static']);
  });

  it('checks the pool\'s upstream at /readyz by default, and no other upstream unless health.path is set', () => {
    const config = parseConfig(`
pool: { processes: 1 }
upstreams:
  inference: { servers: [ "http://10.0.0.7:4001" ] }
  origin: { servers: [ "http://10.0.0.8:80" ] }
  checked: { servers: [ "http://10.0.0.9:80" ], health: { path: /healthz } }
routes:
  - { path: /api/, upstream: inference }
  - { path: /o/, upstream: origin }
  - { path: /c/, upstream: checked }
  - { path: /, static: www }
`, file);
    expect(config.upstreams.get('inference')!.health.path).toBe('/readyz');
    expect(config.upstreams.get('origin')!.health.path).toBe('');
    expect(config.upstreams.get('checked')!.health.path).toBe('/healthz');
    expect(parseConfig(minimal, file).upstreams.get('inference')!.health.path).toBe('/readyz'); // not in the file at all
    const renamed = parseConfig('pool: { upstream: compute }\nupstreams: { inference: { servers: [ "http://10.0.0.7:4001" ] } }\nroutes: [ { path: /, upstream: compute } ]\n', file);
    expect(renamed.upstreams.get('compute')!.health.path).toBe('/readyz');
    expect(renamed.upstreams.get('inference')!.health.path).toBe('');
  });

  it('keeps run-time state (the development certificate) in state_dir, else systemd\'s STATE_DIRECTORY, else .portico beside the file', () => {
    const text = `tls: { cert: auto }\n${minimal}`;
    expect(parseConfig(text, file, {}).tls!.autoDir).toBe(join(dir, '.portico'));
    expect(parseConfig(text, file, { STATE_DIRECTORY: '/var/lib/portico:/var/lib/other' }).tls!.autoDir).toBe('/var/lib/portico');
    expect(parseConfig(`state_dir: state\n${text}`, file, { STATE_DIRECTORY: '/var/lib/portico' }).tls!.autoDir).toBe(join(dir, 'state'));
  });

  it('fills the pool upstream with local backends from base_port, and resolves paths against the file', () => {
    const config = parseConfig(minimal, file);
    expect(config.pool.servers).toEqual(['http://127.0.0.1:4001', 'http://127.0.0.1:4002']);
    expect(config.upstreams.get('inference')?.servers.map((s) => [s.url, s.local])).toEqual([
      ['http://127.0.0.1:4001', true], ['http://127.0.0.1:4002', true],
    ]);
    expect(config.routes[0]?.name).toBe('api');
    expect(config.routes[1]).toMatchObject({ name: 'root', static: join(dir, 'www') });
  });

  it('keeps listed servers and normalises them to origins', () => {
    const config = parseConfig(`
pool: { processes: 0 }
upstreams:
  remote:
    servers: [ "http://10.0.0.7:4001/", { url: "http://[::1]:4002", weight: 3 } ]
routes: [ { path: /, upstream: remote } ]
`, file);
    expect(config.upstreams.get('remote')?.servers).toEqual([
      { url: 'http://10.0.0.7:4001', weight: 1, local: false },
      { url: 'http://[::1]:4002', weight: 3, local: false },
    ]);
    expect(config.upstreams.get('inference')?.servers).toEqual([]);
  });

  it('reads route caches and the cache limits', () => {
    const config = parseConfig(`cache: { max_bytes: 8MiB, lock_timeout: 2s }\npool: { processes: 0, cache_max_age: 90s }\nroutes:\n  - { path: /a/, upstream: inference, cache: true }\n  - { path: /b/, upstream: inference, cache: { post: true } }\n  - { path: /, upstream: inference }`, file);
    expect(config.routes.map((r) => r.cache)).toEqual([{ enabled: true, post: false }, { enabled: true, post: true }, { enabled: false, post: false }]);
    expect(config.cache).toEqual({ max_bytes: 8 * 1024 * 1024, max_object_bytes: 1024 * 1024, lock_timeout: 2000 });
    expect(config.pool.cacheMaxAge).toBe(90);
  });

  it.each([
    ['listen: { http: "127.0.0.1:80", admin: "[::1]:9901" }', { http: { host: '127.0.0.1', port: 80 }, admin: { host: '::1', port: 9901 } }],
    ['listen: { http: ":8081" }', { http: { host: undefined, port: 8081 } }],
    ['listen: { http: { address: 8081, proxy_protocol: true } }', { http: { host: undefined, port: 8081, proxyProtocol: true } }],
    ['tls: { cert: auto }', { https: { host: undefined, port: 8443, proxyProtocol: false } }],
    ['listen: { https: "127.0.0.1:9443" }\ntls: { cert: auto }', { https: { host: '127.0.0.1', port: 9443 } }],
  ])('parses listen addresses: %s', (yaml, expected) => {
    expect(parseConfig(`${yaml}\n${minimal}`, file).listen).toMatchObject(expected);
  });
});

describe('config errors name the file, line and key', () => {
  it.each([
    ['a YAML syntax error', 'routes: [ { path: /api/ ', /portico\.yaml:\d+:\d+: YAML: /],
    ['a duplicate key', 'pool: {}\npool: {}\nroutes: []', /portico\.yaml:2:1: YAML: Map keys must be unique/],
    ['a misspelt key, with a hint', `pool:\n  proceses: 2\n${minimal.replace('pool: { processes: 2 }', '')}`, /portico\.yaml:2:3: pool\.proceses: unknown key \(did you mean "processes"\?\)/],
    ['a wrong type', `pool: { processes: two }\nroutes: [ { path: /, static: www } ]`, /portico\.yaml:1:20: pool\.processes: /],
    ['a bad listen address', `listen: { http: "localhost" }\n${minimal}`, /listen\.http: "localhost" is not a listen address/],
    ['a route to a missing upstream', `routes:\n  - { path: /, upstream: nowhere }`, /:2:\d+: routes\[0\]\.upstream: no upstream named "nowhere" \(known: inference\)/],
    ['a route with both targets', `routes:\n  - { path: /, upstream: inference, static: www }`, /routes\[0\]: a route needs exactly one of/],
    ['a duplicate route name', `routes:\n  - { path: /a, static: www }\n  - { path: /b, name: a, static: www }`, /routes\[1\]\.name: route name "a" is used twice/],
    ['a path without a slash', `routes:\n  - { path: api, static: www }`, /routes\[0\]\.path: a route path starts with "\/"/],
    ['a missing static directory', `routes:\n  - { path: /, static: nope }`, /routes\[0\]\.static: .*nope is not a directory/],
    ['a server that is not a URL', `upstreams: { x: { servers: [ "10.0.0.1" ] } }\nroutes: [ { path: /, upstream: x } ]`, /upstreams\.x\.servers\[0\]: "10\.0\.0\.1" is not a URL/],
    ['a server with a path', `upstreams: { x: { servers: [ "http://a:1/p" ] } }\nroutes: [ { path: /, upstream: x } ]`, /must be a plain http:\/\/host:port or https:\/\/host:port origin/],
    ['an unknown policy', `upstreams: { x: { policy: random } }\nroutes: [ { path: /, upstream: x } ]`, /upstreams\.x\.policy: /],
    ['no routes', 'routes: []', /routes: list at least one route/],
    ['an alias to no anchor (found by test/fuzz.test.ts)', '*;', /portico\.yaml: YAML: Unresolved alias/],
    ['a host with a port', `routes:\n  - { path: /, host: "a.com:80", upstream: inference }`, /routes\[0\]\.host: .*without a port/],
    ['a rate without a unit', `routes:\n  - { path: /, upstream: inference, limits: { rate: "10" } }`, /routes\[0\]\.limits\.rate: "10" is not a rate: write requests per second, minute or hour/],
    ['a burst without a rate', `routes:\n  - { path: /, upstream: inference, limits: { burst: 5 } }`, /routes\[0\]\.limits\.burst: burst needs a rate/],
    ['strip and replace together', `routes:\n  - { path: /a/, upstream: inference, strip_prefix: true, replace_prefix: /b/ }`, /routes\[0\]\.replace_prefix: give strip_prefix or replace_prefix, not both/],
    ['a header value with a newline', `routes:\n  - { path: /, upstream: inference, request_headers: { set: { x-a: "1\\r\\nx-b: 2" } } }`, /routes\[0\]\.request_headers\.set\.x-a: a header value cannot contain CR, LF or NUL/],
    ['a bad header name', `routes:\n  - { path: /, upstream: inference, response_headers: { remove: [ "x a" ] } }`, /routes\[0\]\.response_headers\.remove\[0\]: not a header name/],
    ['a cache on a static route', `routes:\n  - { path: /, static: www, cache: true }`, /routes\[0\]\.cache: cache applies to upstream routes/],
    ['a cache option that is not one', `routes:\n  - { path: /, upstream: inference, cache: { vary: true } }`, /routes\[0\]\.cache/],
    ['a cache size without a unit', `cache: { max_bytes: "lots" }\n${minimal}`, /cache\.max_bytes: /],
    ['a bad trusted proxy', `trusted_proxies: [ 10.0.0.0/33 ]\n${minimal}`, /trusted_proxies\[0\]: not an address or CIDR block/],
    ['a trusted proxy that is a name', `trusted_proxies: [ proxy.local ]\n${minimal}`, /trusted_proxies\[0\]: not an address or CIDR/],
    ['an HTTPS listener without a certificate', `listen: { https: 8443 }\n${minimal}`, /listen\.https: an HTTPS listener needs a certificate: add tls: \{ cert: auto \}/],
    ['a pool running past port 65535', `pool: { processes: 3, base_port: 65534 }\nroutes: [ { path: /, static: www } ]`, /pool\.base_port: 3 backends from port 65534 run past 65535/],
  ])('%s', (_what, text, expected) => {
    expect(problemOf(text)).toMatch(expected);
  });

  it('substitutes environment variables, with defaults', () => {
    const config = parseConfig(`listen: { http: \${HTTP_PORT:-8090}, admin: "127.0.0.1:\${ADMIN_PORT}" }\n${minimal}`, file, { ADMIN_PORT: '9999' });
    expect(config.listen.http.port).toBe(8090);
    expect(config.listen.admin.port).toBe(9999);
  });

  it('names an unset variable and its line', () => {
    expect(() => parseConfig(`${minimal}\nlisten: { http: \${NOT_SET_ANYWHERE} }`, file, {})).toThrow(/portico\.yaml:\d+:\d+: environment variable NOT_SET_ANYWHERE is not set/);
  });

  it('reports an unreadable file by name', () => {
    expect(() => loadConfig(join(dir, 'missing.yaml'))).toThrow(/missing\.yaml: cannot read the file/);
  });

  it('lists every problem, one per line', () => {
    const message = problemOf('listen: { htp: 1 }\npool: { slots: 0 }\nroutes: []');
    expect(message.split('\n')).toHaveLength(3);
  });
});

