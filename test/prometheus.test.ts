/**
 * Portico under a real Prometheus (Debian's package; CI installs it): the
 * shipped scrape config and alert rules pass promtool, and a Prometheus that
 * discovers its targets through GET /targets scrapes every hop, sees a request
 * in the proxy's and a backend's counters, and finds a backend added to the
 * YAML. Skipped, saying why, where Prometheus is not installed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { parse } from 'yaml';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DURATION_BUCKETS } from '../lib/metrics.js';
import { getJson, portico, type PorticoProcess, ROOT, waitUntil, writeConfig } from './helpers.js';

const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const DEPLOY = join(ROOT, 'deploy/prometheus');

describe('alert thresholds', () => {
  it('fall on a bucket boundary of the histogram they read, so the quantile is exact there', () => {
    const rules = parse(readFileSync(join(DEPLOY, 'alerts.yml'), 'utf8')) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> };
    const latency = rules.groups.flatMap((g) => g.rules).filter((r) => r.expr.includes('portico_request_duration_seconds_bucket'));
    expect(latency.length).toBeGreaterThan(0);
    for (const rule of latency) {
      const threshold = Number(/\)\s*>\s*([\d.]+)\s*$/.exec(rule.expr.trim())![1]);
      expect(DURATION_BUCKETS, rule.alert).toContain(threshold);
    }
  });
});

describe('alert rule tests', () => {
  it('have, for every alert, a case where it fires and one where it does not', () => {
    const rules = parse(readFileSync(join(DEPLOY, 'alerts.yml'), 'utf8')) as { groups: Array<{ rules: Array<{ alert: string }> }> };
    const tests = parse(readFileSync(join(DEPLOY, 'alerts.test.yml'), 'utf8')) as { tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }> };
    const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    const missing = rules.groups.flatMap((g) => g.rules.map((r) => r.alert)).flatMap((alert) => [
      ...(cases.some((c) => c.alertname === alert && c.exp_alerts.length > 0) ? [] : [`${alert} firing`]),
      ...(cases.some((c) => c.alertname === alert && c.exp_alerts.length === 0) ? [] : [`${alert} not firing`]),
    ]);
    expect(missing).toEqual([]);
  });
});

describe.skipIf(!has('promtool'))(`shipped Prometheus files${has('promtool') ? '' : ' (skipped: promtool not installed; apt-get install -y prometheus)'}`, () => {
  it.each([
    [['check', 'config', 'prometheus.yml']],
    [['check', 'rules', 'alerts.yml']],
    [['test', 'rules', 'alerts.test.yml']],
  ])('promtool %j passes', (args) => {
    const run = spawnSync('promtool', args, { cwd: DEPLOY, encoding: 'utf8' });
    expect({ code: run.status, output: run.stdout + run.stderr }).toMatchObject({ code: 0 });
  });
});

describe.skipIf(!has('prometheus'))(`a real Prometheus scraping every hop${has('prometheus') ? '' : ' (skipped: prometheus not installed; apt-get install -y prometheus)'}`, () => {
  const config = (processes: number) => `listen: { http: "127.0.0.1:0", admin: "127.0.0.1:0" }\npool: { processes: ${processes}, base_port: 0 }\nroutes: [ { name: api, path: /api/, upstream: inference } ]\n`;
  let master: PorticoProcess;
  let prometheus: ChildProcess;
  let file: string;
  let http: string;
  let api: string;
  const dir = mkdtempSync(join(tmpdir(), 'portico-prometheus-'));

  beforeAll(async () => {
    file = writeConfig(config(1));
    master = portico(['--config', file]);
    const ready = await master.waitForLog((l) => l.msg === 'portico ready', 20_000);
    http = `http://127.0.0.1:${ready.http as number}`;
    const port = await freePort();
    api = `http://127.0.0.1:${port}/api/v1`;
    writeFileSync(join(dir, 'prometheus.yml'), `global: { scrape_interval: 1s }
scrape_configs:
  - job_name: portico
    http_sd_configs: [ { url: "http://127.0.0.1:${ready.admin as number}/targets", refresh_interval: 1s } ]
`);
    prometheus = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
  }, 30_000);

  afterAll(async () => {
    prometheus?.kill('SIGTERM');
    await master?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  interface Target { health: string; labels: Record<string, string> }
  const activeTargets = async (): Promise<Target[]> => {
    try {
      return ((await getJson(`${api}/targets`)).body as { data: { activeTargets: Target[] } }).data.activeTargets;
    } catch {
      return [];
    }
  };
  const query = async (promql: string): Promise<number> => {
    const body = (await getJson(`${api}/query?query=${encodeURIComponent(promql)}`)).body as { data: { result: Array<{ value: [number, string] }> } };
    return Number(body.data.result[0]?.value[1] ?? NaN);
  };

  it('finds the proxy and the backend through /targets, and both are up', async () => {
    await waitUntil(async () => {
      const targets = await activeTargets();
      return targets.length === 2 && targets.every((t) => t.health === 'up');
    }, 20_000, 'two healthy targets');
    expect((await activeTargets()).map((t) => t.labels.hop).sort()).toEqual(['backend', 'proxy']);
  });

  it('sees a request in the proxy\'s and the backend\'s counters', async () => {
    expect((await getJson(`${http}/api/foo?val=10`)).status).toBe(200);
    await waitUntil(async () => (await query('sum(portico_requests_total{route="api",code="200"})')) >= 1
      && (await query('sum(portico_backend_requests_total{route="foo",code="200"})')) >= 1, 10_000, 'the request in both hops');
    expect(await query('sum(portico_native_call_duration_seconds_count{op="foo"})')).toBeGreaterThanOrEqual(1);
  });

  it('finds a backend added to the YAML, with no change to its own config', async () => {
    writeFileSync(file, config(2));
    await waitUntil(async () => {
      const targets = await activeTargets();
      return targets.filter((t) => t.labels.hop === 'backend' && t.health === 'up').length === 2;
    }, 20_000, 'a second backend target');
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}
