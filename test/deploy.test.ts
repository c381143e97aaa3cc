/**
 * Static checks of deploy/ (no container engine or init system runs here): the
 * Grafana dashboard queries exported metrics, the systemd units run the
 * documented commands and pass systemd-analyze, the Dockerfile copies files
 * that exist, the compose file parses and its configs pass their checkers.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { generate } from 'selfsigned';
import { parse, parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { PorticoProcess, ROOT } from './helpers.js';


/**
 * Starts `portico ARGS` on a deploy file's config, laid out in `dir` with its paths mapped,
 * listeners on free loopback ports (as a port mapping would give them), and checks the
 * admin listener's /readyz: the config does not only validate, it runs.
 */
async function startsAndIsReady(dir: string, configText: string, args: (file: string) => string[]): Promise<void> {
  const file = join(dir, 'portico.yaml');
  writeFileSync(file, configText.replace(/^(\s+http:) 8080$/m, '$1 "127.0.0.1:0"').replace(/^(\s+https:) 8443$/m, '$1 "127.0.0.1:0"')
    .replace(/^(\s+admin:) 0\.0\.0\.0:9901$/m, '$1 "127.0.0.1:0"'));
  const child = spawn(process.execPath, [join(ROOT, 'dist/bin/portico.js'), ...args(file)], {
    env: { ...process.env, PORTICO_ADMIN_TOKEN: 'a-long-enough-test-token', PORTICO_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = new PorticoProcess(child);
  try {
    const ready = await proc.waitForLog((l) => l.msg === 'proxy listening', 20_000) as unknown as { admin: { port: number } };
    expect((await fetch(`http://127.0.0.1:${ready.admin.port}/readyz`)).status).toBe(200);
  } finally {
    await proc.stop();
  }
}

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

  it('portico.service may bind ports below 1024 without root, and keeps its state in its StateDirectory', () => {
    const text = readFileSync(join(dir, 'portico.service'), 'utf8');
    // An empty bounding set left listen.http: 80 unbindable; /etc was written for the dev certificate.
    expect(text).toMatch(/^AmbientCapabilities=CAP_NET_BIND_SERVICE$/m);
    expect(text).toMatch(/^CapabilityBoundingSet=CAP_NET_BIND_SERVICE$/m);
    expect(text).toMatch(/^StateDirectory=portico$/m);
    expect(text).not.toMatch(/^ReadWritePaths=.*\/etc/m);
  });

  it('the documented install steps give a config that starts: static files found from /etc/portico', () => {
    const docs = readFileSync(join(ROOT, 'docs/deploy.md'), 'utf8');
    const step = docs.split('\n').find((l) => l.includes('config/portico.yaml | sudo tee /etc/portico/portico.yaml'))!;
    expect(step).toBeDefined();
    const tmp = mkdtempSync(join(tmpdir(), 'portico-etc-'));
    try {
      // The step as written, with /etc/portico under a temporary folder and without sudo.
      const command = step.replaceAll('sudo ', '').replaceAll('/etc/portico', tmp);
      expect(spawnSync('sh', ['-c', command], { cwd: ROOT, encoding: 'utf8' }).status).toBe(0);
      const config = join(tmp, 'portico.yaml');
      // /opt/portico is where the code lives: here, this checkout.
      writeFileSync(config, readFileSync(config, 'utf8').replaceAll('/opt/portico/', `${ROOT}/`));
      expectValidConfig(config);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  const analyzeSecurity = spawnSync('sh', ['-c', 'command -v systemd-analyze']).status === 0;
  it.skipIf(!analyzeSecurity)('scores "OK" or better in systemd-analyze security (exposure under 3)', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'portico-units-'));
    try {
      for (const [unit, copy] of [['portico.service', 'portico.service'], ['portico-backend@.service', 'portico-backend@4001.service']] as const) {
        copyFileSync(join(dir, unit), join(tmp, copy));
        const run = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', join(tmp, copy)], { encoding: 'utf8' });
        const score = Number(/Overall exposure level for \S+: ([\d.]+)/.exec(run.stdout)?.[1]);
        expect(score, `${unit}: ${run.stdout.split('\n').at(-2)}`).toBeLessThan(3);
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
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

  it('keeps node_modules, build output, history and the development key out of the build context (.dockerignore)', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    for (const path of ['.git', 'node_modules', 'dist', 'native/build', 'config/.portico']) expect(ignored, path).toContain(path);
  });

  it('starts from the image\'s own files, ENV and CMD, laid out under a temporary root, and answers /readyz', async () => {
    // The runtime stage as the Dockerfile writes it: WORKDIR, ENV, COPY and the directories its RUN makes.
    const text = readFileSync(join(dir, 'Dockerfile'), 'utf8');
    const runtime = text.slice(text.lastIndexOf('\nFROM '));
    const workdir = /^WORKDIR (\S+)$/m.exec(runtime)![1]!;
    const root = mkdtempSync(join(tmpdir(), 'portico-image-'));
    const at = (path: string) => join(root, isAbsolute(path) ? path : join(workdir, path));
    try {
      for (const [, fromBuild, source, dest] of runtime.matchAll(/^COPY (--from=build )?(\S+) (\S+)$/gm)) {
        const from = join(ROOT, fromBuild ? source!.replace(/^\/src\//, '') : source!); // the build stage works in /src, as this tree
        const to = dest!.endsWith('/') ? join(at(dest!), basename(from)) : at(dest!);
        mkdirSync(dirname(to), { recursive: true });
        if (basename(from) === 'node_modules') symlinkSync(from, to); // large, and the same files
        else cpSync(from, to, { recursive: true });
      }
      for (const [, path] of runtime.matchAll(/mkdir -p (\S+)/g)) mkdirSync(at(path!), { recursive: true });
      const env = Object.fromEntries([...runtime.matchAll(/^ENV (.+)$/gm)].flatMap(([, pairs]) => pairs!.split(/\s+/).map((kv) => kv.split('=') as [string, string])));
      for (const key of ['PORTICO_CONFIG', 'STATE_DIRECTORY']) if (env[key]) env[key] = at(env[key]!);
      // Ports as `docker run -p` would map them: free ones, so that tests run side by side; nothing else changes.
      const config = env.PORTICO_CONFIG!;
      writeFileSync(config, readFileSync(config, 'utf8').replace(/^(\s+http:) 8080/m, '$1 "127.0.0.1:0"').replace(/^(\s+https:) 8443/m, '$1 "127.0.0.1:0"')
        .replace(/^(\s+admin:) 127\.0\.0\.1:9901/m, '$1 "127.0.0.1:0"').replace(/^(\s+processes:) auto/m, '$1 1').replace(/^(\s+base_port:) 4001/m, '$1 0'));
      const [command, ...args] = JSON.parse(/^CMD (\[.+\])$/m.exec(runtime)![1]!) as string[];
      expect(command).toBe('node');
      const child = spawn(process.execPath, args, { cwd: at(workdir), env: { ...process.env, ...env, PORTICO_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
      const image = new PorticoProcess(child);
      try {
        const ready = await image.waitForLog((l) => l.msg === 'portico ready', 20_000) as unknown as { admin: number };
        expect((await fetch(`http://127.0.0.1:${ready.admin}/readyz`)).status).toBe(200);
        expect(existsSync(join(env.STATE_DIRECTORY!, 'dev-cert.pem'))).toBe(true); // the development certificate went to the state volume
      } finally {
        await image.stop();
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 40_000);

  it('compose.yaml parses, has the proxy, three backends, Prometheus, Grafana and Jaeger, and mounts files that exist', () => {
    const compose = parse(readFileSync(join(dir, 'compose.yaml'), 'utf8')) as { services: Record<string, { volumes?: string[]; command?: string[] }>; volumes?: Record<string, unknown> };
    expect(Object.keys(compose.services).sort()).toEqual(['backend-1', 'backend-2', 'backend-3', 'grafana', 'jaeger', 'portico', 'prometheus']);
    for (const service of Object.values(compose.services)) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0]!;
        // A bind mount names a file here; a named volume is declared at the top level.
        if (source.startsWith('.')) expect(existsSync(join(dir, source)), volume).toBe(true);
        else expect(compose.volumes, volume).toHaveProperty(source);
      }
    }
    expect(compose.services.portico!.volumes).toContain('portico-state:/var/lib/portico');
    expect(compose.services['backend-1']!.command).toEqual(['node', 'dist/bin/portico.js', 'backend', '--host', '0.0.0.0', '--port', '4001', '--otlp', 'http://jaeger:4318/v1/traces']);
    // The proxy's spans go to the same Jaeger as the backends'.
    expect(readFileSync(join(dir, 'portico.compose.yaml'), 'utf8')).toMatch(/^tracing:\n {2}otlp: http:\/\/jaeger:4318\/v1\/traces$/m);
  });

  it('logs of every container are rotated, and the admin token has one source both sides read', () => {
    const compose = parse(readFileSync(join(dir, 'compose.yaml'), 'utf8'), { merge: true }) as {
      services: Record<string, { logging?: { options?: Record<string, string> }; environment?: Record<string, string>; secrets?: string[] }>;
      secrets: Record<string, { environment?: string }>;
    };
    for (const [name, service] of Object.entries(compose.services)) expect(service.logging?.options?.['max-size'], name).toBeDefined();
    expect(compose.services.portico!.secrets).toEqual(['admin_token']);
    expect(compose.services.prometheus!.secrets).toEqual(['admin_token']);
    expect(JSON.stringify(compose.services.portico!.environment ?? {})).not.toContain('TOKEN'); // no second source, no default
    expect(readFileSync(join(dir, 'portico.compose.yaml'), 'utf8')).toMatch(/^admin_token_file: \/run\/secrets\/admin_token/m);
    expect(readFileSync(join(dir, 'prometheus.compose.yml'), 'utf8')).toContain('credentials_file: /run/secrets/admin_token');
  });

  it('the proxy config it mounts passes portico check-config, and starts', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'portico-compose-'));
    writeFileSync(join(tmp, 'admin_token'), 'a-long-enough-test-token\n');
    const text = readFileSync(join(dir, 'portico.compose.yaml'), 'utf8').replace('/opt/portico/static', join(ROOT, 'static')).replace('/run/secrets/admin_token', join(tmp, 'admin_token'));
    try {
      writeFileSync(join(tmp, 'portico.yaml'), text);
      expectValidConfig(join(tmp, 'portico.yaml'));
      await startsAndIsReady(tmp, text, (file) => ['--config', file]); // as the portico service runs it
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 30_000);

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

  it('mounts the ConfigMap and the Secret as directories the kubelet updates (no subPath)', () => {
    const deployment = docs.find((d) => d.doc.kind === 'Deployment' && d.doc.metadata.name === 'portico')!.doc as unknown as {
      spec: { template: { spec: { containers: Array<{ command: string[]; volumeMounts: Array<{ name: string; mountPath: string; subPath?: string }> }> } } };
    };
    const container = deployment.spec.template.spec.containers[0]!;
    for (const mount of container.volumeMounts) expect(mount.subPath, mount.name).toBeUndefined();
    const config = container.volumeMounts.find((m) => m.name === 'config')!;
    expect(container.command.at(-1)).toBe(`${config.mountPath}/portico.yaml`);
  });

  it('keeps the client\'s address at the Service and believes no client\'s X-Forwarded-For', () => {
    const service = docs.find((d) => d.doc.kind === 'Service' && d.doc.metadata.name === 'portico')!.doc as unknown as { spec: { type: string; externalTrafficPolicy?: string } };
    expect(service.spec.type).toBe('LoadBalancer');
    // With the default (Cluster) the balancer's traffic is SNATed to node addresses; trusting those trusted everyone.
    expect(service.spec.externalTrafficPolicy).toBe('Local');
    const configMap = docs.find((d) => d.doc.kind === 'ConfigMap')!.doc as unknown as { data: Record<string, string> };
    const trusted = (parse(configMap.data['portico.yaml']!) as { trusted_proxies?: string[] }).trusted_proxies ?? [];
    expect(trusted).toEqual([]);
  });

  it('ships a proxy config that passes portico check-config, and starts as the Deployment runs it', async () => {
    const configMap = docs.find((d) => d.doc.kind === 'ConfigMap')!.doc as unknown as { data: Record<string, string> };
    const tmp = mkdtempSync(join(tmpdir(), 'portico-k8s-'));
    try {
      const pems = await generate([{ name: 'commonName', value: 'portico.test' }], { keyType: 'ec', algorithm: 'sha256' });
      writeFileSync(join(tmp, 'tls.crt'), pems.cert);
      writeFileSync(join(tmp, 'tls.key'), pems.private);
      const text = configMap.data['portico.yaml']!.replaceAll('/etc/portico/tls', tmp).replace('/opt/portico/static', join(ROOT, 'static'));
      writeFileSync(join(tmp, 'portico.yaml'), text);
      expectValidConfig(join(tmp, 'portico.yaml'));
      // As the Deployment runs it: the proxy alone, its command from the manifest.
      const deployment = docs.find((d) => d.doc.kind === 'Deployment' && d.doc.metadata.name === 'portico')!.doc as unknown as { spec: { template: { spec: { containers: Array<{ command: string[] }> } } } };
      const command = deployment.spec.template.spec.containers[0]!.command;
      expect(command.slice(0, 3)).toEqual(['node', 'dist/bin/portico.js', 'proxy']);
      await startsAndIsReady(tmp, text, (file) => [...command.slice(2, -1), file]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 30_000);
});
