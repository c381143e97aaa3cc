/**
 * `npm run bench:hot-path`: which forwarding path should Portico's proxy use?
 * Each candidate runs as a minimal proxy pinned to core 0 (taskset), wrk runs
 * pinned to core 1, against a trivial origin (nginx when installed, else Node); the full Portico proxy runs
 * the same way for comparison. Rounds alternate the candidates so that noise
 * on this shared machine spreads over all of them. Needs wrk and taskset.
 */
import { execFile, fork, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI_SCRIPT } from '../lib/paths.js';
import { table } from './report.js';
import { availableAnchors, startAnchor, startNginxOrigin } from './anchors.js';
import { freePort, installed, stopChild } from './tools.js';

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SECONDS = Number(process.env.HOT_PATH_SECONDS ?? 5);
const CANDIDATES = ['http-proxy-3', 'node-http-request', 'undici-pool', 'portico', 'portico-no-metrics'];

function need(tool: string): void {
  if (installed(tool)) return;
  process.stderr.write(`bench:hot-path needs ${tool}: apt-get install -y ${tool === 'taskset' ? 'util-linux' : tool}\n`);
  process.exit(1);
}


async function startCandidate(kind: string, port: number, originPort: number): Promise<ChildProcess> {
  let child: ChildProcess;
  if (kind.startsWith('portico')) {
    const dir = mkdtempSync(join(tmpdir(), 'portico-hot-path-'));
    const file = join(dir, 'portico.yaml');
    writeFileSync(file, `listen: { http: "127.0.0.1:${port}", admin: "127.0.0.1:0" }\naccess_log: false\n${kind === 'portico-no-metrics' ? 'metrics: false\n' : ''}pool: { processes: 0 }\nupstreams:\n  app:\n    max_inflight: 1000\n    health: { path: "" }\n    servers: [ "http://127.0.0.1:${originPort}" ]\nroutes:\n  - { path: /, upstream: app }\n`);
    child = spawn('taskset', ['-c', '0', process.execPath, CLI_SCRIPT, 'proxy', '--config', file], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  } else {
    const script = fileURLToPath(new URL('./hot-path-proxy.js', import.meta.url));
    child = fork(script, [kind, String(port), String(originPort)], { execPath: 'taskset', execArgv: ['-c', '0', process.execPath], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  }
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`http://127.0.0.1:${port}/`);
      return child;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${kind} did not start`);
}

/** Runs wrk without blocking this process, which serves the origin. */
async function wrk(port: number): Promise<number> {
  const { stdout } = await promisify(execFile)('taskset', ['-c', '1', 'wrk', '-t1', '-c50', `-d${SECONDS}s`, `http://127.0.0.1:${port}/`], { encoding: 'utf8' });
  return Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN);
}

async function main(): Promise<void> {
  need('wrk');
  need('taskset');
  // The origin: a trivial nginx when installed (it must not be the limit), else a Node server; unpinned either way.
  let originPort: number;
  let stopOrigin: () => Promise<unknown>;
  if (installed('nginx')) {
    const nginxOrigin = await startNginxOrigin();
    originPort = Number(new URL(nginxOrigin.url).port);
    stopOrigin = nginxOrigin.stop;
  } else {
    const origin = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 }).end('ok'));
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
    originPort = (origin.address() as AddressInfo).port;
    stopOrigin = () => new Promise((r) => origin.close(r));
  }
  // nginx and HAProxy join when installed (one worker / one thread, pinned like the rest).
  const { kinds: anchorKinds, missing } = availableAnchors();
  for (const line of missing) process.stdout.write(`${line}\n`);
  const candidates = [...CANDIDATES, ...anchorKinds];
  const runs: Record<string, number[]> = Object.fromEntries(candidates.map((c) => [c, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of candidates) {
      let port: number;
      let stop: () => Promise<unknown>;
      if (kind === 'nginx' || kind === 'haproxy') {
        const anchor = await startAnchor(kind, [`http://127.0.0.1:${originPort}`], { cpus: '0', balance: 'roundrobin' });
        port = Number(new URL(anchor.url).port);
        stop = anchor.stop;
      } else {
        port = await freePort();
        const child = await startCandidate(kind, port, originPort);
        stop = () => stopChild(child);
      }
      await wrk(port); // warm-up
      runs[kind]!.push(await wrk(port));
      await stop();
    }
  }
  await stopOrigin();
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const base = median(runs['http-proxy-3']!);
  const nginx = runs.nginx ? median(runs.nginx) : undefined;
  const metricsCost = median(runs.portico!) / median(runs['portico-no-metrics']!);
  process.stdout.write(`Pass-through, proxy on core 0, wrk -t1 -c50 -d${SECONDS}s on core 1, ${installed('nginx') ? 'trivial nginx origin' : 'Node origin'} unpinned, ${ROUNDS} rounds (median). When nginx and the bare Node paths reach about the same figure, the origin or wrk is the limit, not the proxy.\n\n`);
  process.stdout.write(`${table(candidates.map((kind) => ({
    path: kind, 'req/s (median)': median(runs[kind]!), runs: runs[kind]!.map((r) => r.toFixed(0)).join(' '), 'vs http-proxy-3': median(runs[kind]!) / base,
    ...(nginx !== undefined && { 'vs nginx': median(runs[kind]!) / nginx }),
  })))}\n`);
  if (nginx !== undefined) process.stdout.write(`\nPortico / nginx: ${(median(runs.portico!) / nginx).toFixed(2)} (target >= 0.3); Portico / http-proxy-3: ${(median(runs.portico!) / base).toFixed(2)} (target >= 2)\n`);
  process.stdout.write(`\nPortico with metrics / without (metrics: false): ${metricsCost.toFixed(3)} (target >= 0.95)\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exit(1);
});
