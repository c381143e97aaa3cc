import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG_FILE, loadConfig, parseConfig } from '../lib/config/load.js';
import { bannerOf } from './banner.js';

const dir = mkdtempSync(join(tmpdir(), 'portico-banner-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the start-up banner', () => {
  it('shows the shipped config\'s demo page, inference API, HTTPS and admin endpoints', () => {
    const text = bannerOf({ type: 'ready', http: 8080, https: 8443, admin: 9901 }, loadConfig(DEFAULT_CONFIG_FILE));
    expect(text).toMatch(/http:\/\/127\.0\.0\.1:8080\/api\/ +route api: upstream inference\n/);
    expect(text).toMatch(/http:\/\/127\.0\.0\.1:8080\/api\/foo\?val=1000 +the inference API\n/);
    expect(text).toMatch(/http:\/\/127\.0\.0\.1:8080\/ +route static: static files from .*static\n/);
    expect(text).toMatch(/https:\/\/127\.0\.0\.1:8443\/ +the same over HTTPS \(self-signed development certificate\)\n/);
    expect(text).toMatch(/http:\/\/127\.0\.0\.1:9901\/metrics +Prometheus metrics\n/);
  });

  it('names only what a config in front of another server serves: no inference API, no HTTPS without tls', () => {
    const config = parseConfig(`
listen: { http: "[::1]:8081", admin: "127.0.0.1:9902" }
pool: { processes: 0 }
upstreams: { py: { servers: [ "http://127.0.0.1:8000" ] } }
routes:
  - { path: /, upstream: py, host: [ a.example ] }
`, join(dir, 'portico.yaml'));
    const text = bannerOf({ type: 'ready', http: 8081, admin: 9902 }, config);
    expect(text).toMatch(/http:\/\/\[::1\]:8081\/ +route a_example: upstream py \(Host: a\.example\)\n/);
    expect(text).not.toMatch(/api\/foo|HTTPS/);
  });
});
