/**
 * Static checks of deploy/ (no container engine or init system runs here): the
 * Grafana dashboard queries exported metrics, the systemd units run the
 * documented commands and pass systemd-analyze, the Dockerfile copies files
 * that exist, the compose file parses and its configs pass their checkers.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { generate } from 'selfsigned';
import { parse, parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers.js';


/** `portico check-config FILE` accepts the file, with the admin token the deploy files take from the environment. */
function expectValidConfig(file: string): void {
  const run = spawnSync(process.execPath, [join(ROOT, 'dist/bin/portico.js'), 'check-config', file], {
    encoding: 'utf8', env: { ...process.env, PORTICO_ADMIN_TOKEN: 'a-long-enough-test-token' },
  });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
}

describe('deploy/grafana/portico.json', () => {
  const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy/grafana/portico.json'), 'utf8')) as {
    panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
  };
  const documented = readFileSync(join(ROOT, 'docs/metrics.md'), 'utf8');

  it('has the panels the issue asks for', () => {
    const titles = dashboard.panels.map((p) => p.title.toLowerCase()).join(' | ');
    for (const topic of ['requests per second by code', 'latency', 'queue', 'in flight', 'shed', 'cache hit ratio', 'restarts']) {
      expect(titles).toContain(topic);
    }
  });

  it('queries only metrics Portico exports', () => {
    const names = new Set(dashboard.panels.flatMap((p) => p.targets.flatMap((t) => t.expr.match(/portico_[a-z_]+/g) ?? [])));
    const base = (name: string) => name.replace(/_(bucket|sum|count)$/, '');
    const missing = [...names].map(base).filter((n) => !documented.includes(`\`${n}\``));
    expect(missing).toEqual([]);
  });
});

describe('deploy/systemd', () => {
  const dir = join(ROOT, 'deploy/systemd');
  const help = spawnSync(process.execPath, [join(ROOT, 'dist/bin/portico.js'), '--help'], { encoding: 'utf8' }).stdout;

  it.each(['portico.service', 'portico-backend@.service'])('%s runs the documented command, drains on SIGTERM, reloads on SIGHUP, and is hardened', (unit) => {
    const text = readFileSync(join(dir, unit), 'utf8');
    const exec = /^ExecStart=(.+)$/m.exec(text)![1]!;
    expect(exec).toMatch(/^\/usr\/bin\/node \/opt\/portico\/dist\/bin\/portico\.js/);
    for (const flag of exec.match(/--[a-z-]+/g) ?? []) expect(help).toContain(flag);
    for (const setting of ['User=portico', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'KillSignal=SIGTERM', 'LimitNOFILE=', 'Restart=']) {
      expect(text).toContain(setting);
    }
    if (unit === 'portico.service') expect(text).toContain('ExecReload=/bin/kill -HUP $MAINPID');
  });

  const analyze = spawnSync('sh', ['-c', 'command -v systemd-analyze']).status === 0;
  it.skipIf(!analyze)(`passes systemd-analyze verify${analyze ? '' : ' (skipped: systemd-analyze not installed)'}`, () => {
    const tmp = mkdtempSync(join(tmpdir(), 'portico-units-'));
    try {
      copyFileSync(join(dir, 'portico.service'), join(tmp, 'portico.service'));
      copyFileSync(join(dir, 'portico-backend@.service'), join(tmp, 'portico-backend@4001.service'));
      for (const unit of ['portico.service', 'portico-backend@4001.service']) {
        const run = spawnSync('systemd-analyze', ['verify', '--man=no', join(tmp, unit)], { encoding: 'utf8' });
        expect({ unit, code: run.status, output: run.stderr.split('\n').filter((l) => l.includes(unit.split('@')[0]!)).join('\n') }).toEqual({ unit, code: 0, output: '' });
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('deploy/container', () => {
  const dir = join(ROOT, 'deploy/container');

  it('Dockerfile copies only files that exist, builds with npm ci, runs the documented command as a non-root user', () => {
    const text = readFileSync(join(dir, 'Dockerfile'), 'utf8');
    const sources = [...text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/));
    expect(sources.length).toBeGreaterThan(5);
    for (const source of sources) expect(existsSync(join(ROOT, source)), source).toBe(true);
    expect(text).toMatch(/RUN npm ci/);
    expect(text).toMatch(/^USER portico$/m);
    expect(text).toMatch(/^HEALTHCHECK [^\n]*\\\n\s+CMD .*\/readyz/m);
    expect(text).toMatch(/^CMD \["node", "dist\/bin\/portico\.js"\]$/m);
  });

  it('compose.yaml parses, has the proxy, three backends, Prometheus and Grafana, and mounts files that exist', () => {
    const compose = parse(readFileSync(join(dir, 'compose.yaml'), 'utf8')) as { services: Record<string, { volumes?: string[]; command?: string[] }> };
    expect(Object.keys(compose.services).sort()).toEqual(['backend-1', 'backend-2', 'backend-3', 'grafana', 'portico', 'prometheus']);
    for (const service of Object.values(compose.services)) {
      for (const volume of service.volumes ?? []) expect(existsSync(join(dir, volume.split(':')[0]!)), volume).toBe(true);
    }
    expect(compose.services['backend-1']!.command).toEqual(['node', 'dist/bin/portico.js', 'backend', '--host', '0.0.0.0', '--port', '4001']);
  });

  it('the proxy config it mounts passes portico check-config', () => {
    const text = readFileSync(join(dir, 'portico.compose.yaml'), 'utf8').replace('/opt/portico/static', join(ROOT, 'static'));
    const tmp = mkdtempSync(join(tmpdir(), 'portico-compose-'));
    try {
      writeFileSync(join(tmp, 'portico.yaml'), text);
      expectValidConfig(join(tmp, 'portico.yaml'));
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('the Prometheus config it mounts passes promtool', () => {
    const promtool = spawnSync('sh', ['-c', 'command -v promtool']).status === 0;
    if (!promtool) return;
    const tmp = mkdtempSync(join(tmpdir(), 'portico-compose-'));
    try {
      copyFileSync(join(dir, 'prometheus.compose.yml'), join(tmp, 'prometheus.yml'));
      copyFileSync(join(ROOT, 'deploy/prometheus/alerts.yml'), join(tmp, 'alerts.yml'));
      // --syntax-only: the token file is a compose secret that exists only inside the container (rules are checked on their own).
      expect(spawnSync('promtool', ['check', 'config', '--syntax-only', join(tmp, 'prometheus.yml')]).status).toBe(0);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('deploy/k8s', () => {
  const dir = join(ROOT, 'deploy/k8s');
  const kustomization = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const models: Record<string, new (data: any) => { validate(): void }> = {
    'apps/v1/Deployment': Deployment, 'v1/Service': Service, 'v1/ConfigMap': ConfigMap,
    'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler, 'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  };
  const docs = kustomization.resources.flatMap((file) => parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((d) => ({ file, doc: d.toJS() as { apiVersion: string; kind: string; metadata: { name: string } } })));

  it('lists every manifest in the kustomization, and only files that exist', () => {
    const manifests = readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort();
    expect([...kustomization.resources].sort()).toEqual(manifests);
  });

  it('has valid manifests for the pinned Kubernetes schemas (kubernetes-models)', () => {
    expect(docs.length).toBe(7);
    for (const { file, doc } of docs) {
      const Model = models[`${doc.apiVersion}/${doc.kind}`];
      expect(Model, `${file}: ${doc.apiVersion} ${doc.kind}`).toBeDefined();
      expect(() => new Model!(doc).validate(), file).not.toThrow();
    }
  });

  it('follows the backends by the headless Service\'s DNS name, and probes the documented endpoints', () => {
    const service = docs.find((d) => d.doc.kind === 'Service' && d.doc.metadata.name === 'portico-backend')!.doc as unknown as { spec: { clusterIP: string } };
    expect(service.spec.clusterIP).toBe('None');
    const config = readFileSync(join(dir, 'proxy-configmap.yaml'), 'utf8');
    expect(config).toContain('{ dns: portico-backend.default.svc.cluster.local, port: 4001, resolve: true }');
    const backend = readFileSync(join(dir, 'backend-deployment.yaml'), 'utf8');
    expect(backend).toMatch(/readinessProbe:\s+httpGet: \{ path: \/readyz/);
    expect(backend).toMatch(/livenessProbe:\s+httpGet: \{ path: \/healthz/);
  });

  it('ships a proxy config that passes portico check-config', async () => {
    const configMap = docs.find((d) => d.doc.kind === 'ConfigMap')!.doc as unknown as { data: Record<string, string> };
    const tmp = mkdtempSync(join(tmpdir(), 'portico-k8s-'));
    try {
      const pems = await generate([{ name: 'commonName', value: 'portico.test' }], { keyType: 'ec', algorithm: 'sha256' });
      writeFileSync(join(tmp, 'tls.crt'), pems.cert);
      writeFileSync(join(tmp, 'tls.key'), pems.private);
      const text = configMap.data['portico.yaml']!.replaceAll('/etc/portico/tls', tmp).replace('/opt/portico/static', join(ROOT, 'static'));
      writeFileSync(join(tmp, 'portico.yaml'), text);
      expectValidConfig(join(tmp, 'portico.yaml'));
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
