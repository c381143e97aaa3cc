/**
 * `promtool check metrics` on every hop of a running pool: the proxy's admin
 * /metrics and each backend's /metrics. CI installs promtool (Debian's
 * prometheus package); without it the test is skipped and says why.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, portico, type PorticoProcess, waitUntil, writeConfig } from './helpers.js';

const promtool = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).stdout.trim();

describe.skipIf(!promtool)(`promtool check metrics${promtool ? '' : ' (skipped: promtool not installed; apt-get install -y prometheus)'}`, () => {
  let master: PorticoProcess;
  let http: string;
  let admin: string;
  beforeAll(async () => {
    master = portico(['--config', writeConfig('listen: { http: "127.0.0.1:0", admin: "127.0.0.1:0" }\npool: { processes: 2, base_port: 0 }\nroutes: [ { path: /api/, upstream: inference } ]\n')]);
    const ready = await master.waitForLog((l) => l.msg === 'portico ready', 20_000);
    http = `http://127.0.0.1:${ready.http as number}`;
    admin = `http://127.0.0.1:${ready.admin as number}`;
    await waitUntil(async () => (await getJson(`${admin}/status`)).body.upstreams[0].servers.filter((s: { up: boolean }) => s.up).length === 2, 15_000, 'two backends');
    // Traffic of every kind, so that labelled series exist.
    await Promise.all([getJson(`${http}/api/foo?val=10`), getJson(`${http}/api/foo?val=bad`), getJson(`${http}/nothing`)]);
  });
  afterAll(async () => master?.stop());

  it('passes on the merged /metrics/all, which has every hop in it', async () => {
    const text = await (await fetch(`${admin}/metrics/all`)).text();
    expect(text).toMatch(/^portico_requests_total\{hop="proxy",/m);
    expect(text.match(/^portico_backend_slots\{hop="backend",server="[^"]+"\} 1$/gm)).toHaveLength(2);
    expect(text).toMatch(/^portico_native_call_duration_seconds_count\{hop="backend",server="[^"]+",op="foo"\} [1-9]/m);
    expect(text.match(/^portico_aggregate_target_up\{server="[^"]+"\} 1$/gm)).toHaveLength(2);
    const lint = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(lint.stdout + lint.stderr).toBe('');
  });

  it('passes on the proxy and on every backend', async () => {
    const status = (await getJson(`${admin}/status`)).body as { upstreams: Array<{ servers: Array<{ url: string }> }> };
    const targets = [admin, ...status.upstreams[0]!.servers.map((s) => s.url)];
    expect(targets).toHaveLength(3);
    for (const target of targets) {
      const text = await (await fetch(`${target}/metrics`)).text();
      expect(text).toMatch(/^portico_/m);
      const lint = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
      expect({ target, output: lint.stdout + lint.stderr, code: lint.status }).toEqual({ target, output: '', code: 0 });
    }
  });
});
