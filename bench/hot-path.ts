/**
 * `npm run bench:hot-path`: what one core of Portico's proxy carries on the
 * pass-through path, beside Node's own ceiling and nginx. Each server runs
 * pinned to core 0 (taskset), wrk pinned to core 1, against a trivial origin
 * (nginx when installed, else Node). The rows:
 * - minimal proxies: Node's ceiling per forwarding path (hot-path-proxy.ts);
 * - Portico as `npm start` runs it (master, pool, HTTPS listener, the shipped
 *   config plus one pass-through route), access log on (the default, to a
 *   file) and off, and off with `metrics: false`;
 * - nginx (one worker) with its access log off and on, and HAProxy.
 * Rounds alternate the servers so that noise on this shared machine spreads
 * over all of them. Needs wrk and taskset.
 *   ROUNDS=3 HOT_PATH_SECONDS=5 ONLY=undici-pool,portico npm run bench:hot-path
 */
import { execFile, fork, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { median, pairedRatio, spread, table } from './report.js';
import { availableAnchors, startAnchor, startNginxOrigin } from './anchors.js';
import { startShippedPortico } from './shipped-portico.js';
import { freePort, installed, stopChild } from './tools.js';

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SECONDS = Number(process.env.HOT_PATH_SECONDS ?? 5);
const MINIMAL = ['http-proxy-3', 'node-http-request', 'undici-pool'];
const PORTICO = ['portico', 'portico-no-log', 'portico-no-log-no-metrics'];
const PATH = '/bench/';
const LABELS: Record<string, string> = {
  'http-proxy-3': 'http-proxy-3 (minimal, keep-alive agent)',
  'node-http-request': 'node:http request (minimal)',
  'undici-pool': 'undici Pool (minimal)',
  portico: 'Portico as npm start runs it, access log on (default)',
  'portico-no-log': 'Portico, access_log: false',
  'portico-no-log-no-metrics': 'Portico, access_log: false, metrics: false',
  nginx: 'nginx (one worker), access log off',
  'nginx-log': 'nginx (one worker), access log on',
  haproxy: 'HAProxy (one thread), no log',
};

function need(tool: string): void {
  if (installed(tool)) return;
  process.stderr.write(`bench:hot-path needs ${tool}: apt-get install -y ${tool === 'taskset' ? 'util-linux' : tool}\n`);
  process.exit(1);
}

async function startMinimal(kind: string, port: number, originPort: number): Promise<ChildProcess> {
  const script = fileURLToPath(new URL('./hot-path-proxy.js', import.meta.url));
  const child = fork(script, [kind, String(port), String(originPort)], { execPath: 'taskset', execArgv: ['-c', '0', process.execPath], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', () => reject(new Error(`${kind} did not start`)));
  });
  return child;
}

/** Starts one server of the comparison; its URL for wrk, and how to stop it. */
async function start(kind: string, origin: string): Promise<{ url: string; stop(): Promise<unknown> }> {
  if (kind === 'nginx' || kind === 'nginx-log' || kind === 'haproxy') {
    const anchor = await startAnchor(kind === 'haproxy' ? 'haproxy' : 'nginx', [origin], { cpus: '0', balance: 'roundrobin', accessLog: kind === 'nginx-log' });
    return { url: `${anchor.url}${PATH}`, stop: anchor.stop };
  }
  if (kind.startsWith('portico')) {
    const portico = await startShippedPortico({ path: PATH, origin, accessLog: kind === 'portico', metrics: !kind.endsWith('no-metrics'), cpus: '0' }, PATH);
    return { url: `${portico.url}${PATH}`, stop: portico.stop };
  }
  const port = await freePort();
  const child = await startMinimal(kind, port, Number(new URL(origin).port));
  return { url: `http://127.0.0.1:${port}${PATH}`, stop: () => stopChild(child) };
}

/** Runs wrk without blocking this process, which may serve the origin. */
async function wrk(url: string, seconds: number): Promise<number> {
  const { stdout } = await promisify(execFile)('taskset', ['-c', '1', 'wrk', '-t1', '-c50', `-d${seconds}s`, url], { encoding: 'utf8' });
  return Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN);
}

async function main(): Promise<void> {
  need('wrk');
  need('taskset');
  // The origin: a trivial nginx when installed (it must not be the limit), else a Node server; unpinned either way.
  let origin: string;
  let stopOrigin: () => Promise<unknown>;
  if (installed('nginx')) {
    const nginxOrigin = await startNginxOrigin();
    origin = nginxOrigin.url;
    stopOrigin = nginxOrigin.stop;
  } else {
    const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 }).end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    stopOrigin = () => new Promise((r) => server.close(r));
  }
  const { kinds: anchorKinds, missing } = availableAnchors();
  for (const line of missing) process.stdout.write(`${line}\n`);
  const anchors = anchorKinds.flatMap((k) => (k === 'nginx' ? ['nginx', 'nginx-log'] : [k]));
  const only = process.env.ONLY?.split(',');
  const candidates = only ?? [...MINIMAL, ...PORTICO, ...anchors];
  const runs: Record<string, number[]> = Object.fromEntries(candidates.map((c) => [c, []]));
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const kind of candidates) {
        const server = await start(kind, origin);
        try {
          await wrk(server.url, 1); // warm-up: the JIT, and the upstream connections
          runs[kind]!.push(await wrk(server.url, SECONDS));
        } finally {
          await server.stop();
        }
      }
    }
  } finally {
    await stopOrigin();
  }
  const of = (kind: string) => (runs[kind]?.length ? median(runs[kind]!) : undefined);
  const ceiling = of('undici-pool');
  const nginx = of('nginx');
  process.stdout.write(`Pass-through GET ${PATH}, each server pinned to core 0, wrk -t1 -c50 -d${SECONDS}s on core 1, ${installed('nginx') ? 'a trivial nginx origin' : 'a Node origin'} unpinned, ${ROUNDS} rounds alternating (median; spread = half the range). Access logs go to a file. When nginx and the minimal proxies reach about the same figure, the origin or wrk is the limit, not the proxy.\n\n`);
  process.stdout.write(`${table(candidates.map((kind) => ({
    path: LABELS[kind] ?? kind, 'req/s (median)': of(kind)!, spread: spread(runs[kind]!), runs: runs[kind]!.map((r) => r.toFixed(0)).join(' '),
    ...(ceiling !== undefined && { 'vs undici Pool': of(kind)! / ceiling }),
    ...(nginx !== undefined && { 'vs nginx': of(kind)! / nginx }),
  })))}\n\n`);
  const checks = [
    ['Portico (access log on) / undici Pool', 'portico', 'undici-pool', 0.8],
    ['Portico (access log off) / undici Pool', 'portico-no-log', 'undici-pool', 0.8],
    ['Portico access log on / off', 'portico', 'portico-no-log', 0.85],
    ['Portico (access log off) / nginx (one worker, no access log)', 'portico-no-log', 'nginx', undefined],
    ['Portico (access log on) / nginx (one worker, access log on)', 'portico', 'nginx-log', undefined],
    ['Portico with metrics / without', 'portico-no-log', 'portico-no-log-no-metrics', 0.95],
    ['nginx access log on / off', 'nginx-log', 'nginx', undefined],
  ] as const;
  process.stdout.write(`Ratios: the median of the ${ROUNDS} rounds' ratios (each round's runs are minutes apart at most), with their range.\n\n`);
  process.stdout.write(`${table(checks.filter(([, a, b]) => runs[a]?.length && runs[b]?.length).map(([what, a, b, target]) => {
    const r = pairedRatio(runs[a]!, runs[b]!);
    return { check: what, target: target === undefined ? 'report' : `≥ ${target}`, measured: r.median, range: `${r.min.toFixed(2)}–${r.max.toFixed(2)}`, result: target === undefined || r.median >= target ? 'pass' : 'FAIL' };
  }))}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exit(1);
});
