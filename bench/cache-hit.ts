/**
 * The `cache` scenario of `npm run bench`: cache-hit throughput on one core.
 * Each server is pinned to core 0 and wrk to core 1, all answering the same
 * bytes: a bare Node http server from memory (Node's ceiling), Portico as
 * `npm start` runs it with a cached route (access log on, the default, and
 * off), and nginx with proxy_cache (access log off and on) and HAProxy's cache
 * when installed. All start first and stay up; rounds alternate them so that
 * noise on this shared machine spreads over all. Then Portico runs head to head
 * with bare Node (head-to-head.ts), the comparison that holds on this machine.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, pairedRatio, spread, type ScenarioResult } from './report.js';
import { headToHead as headToHeadRun, type HeadToHead } from './head-to-head.js';
import { startShippedPortico } from './shipped-portico.js';
import { freePort, installed, pinnedWrk, stopChild } from './tools.js';

/** What the backend answers for /api/foo?val=1000, byte for byte in size and headers. */
export const CACHED_BODY = JSON.stringify({ val: 1000, result: 4.6789012345678e9, ms: 9.312, pid: 123456 });
export const CACHED_HEADERS = { 'content-type': 'application/json', 'cache-control': 'public, max-age=3600' };



type Candidate = 'node-memory' | 'portico-cache' | 'portico-cache-no-log' | 'nginx-proxy_cache' | 'nginx-proxy_cache-log' | 'haproxy-cache';

const PATH = '/api/foo?val=1000';

async function start(kind: Candidate, port: number, originPort: number, dir: string): Promise<{ url: string; stop(): Promise<void>; pid?: number }> {
  if (kind === 'portico-cache' || kind === 'portico-cache-no-log') {
    // As npm start runs it: the shipped config plus a cached route to the bench's origin, which takes /api/foo from the pool's /api/.
    const portico = await startShippedPortico({ path: '/api/foo', origin: `http://127.0.0.1:${originPort}`, cache: true, accessLog: kind === 'portico-cache', cpus: '0' }, PATH);
    return { url: `${portico.url}${PATH}`, stop: portico.stop, pid: portico.proxyPid };
  }
  let child: ChildProcess;
  if (kind === 'nginx-proxy_cache' || kind === 'nginx-proxy_cache-log') {
    const conf = join(dir, 'nginx.conf');
    chmodSync(dir, 0o777); // nginx started as root runs its worker as nobody, which writes the cache here
    writeFileSync(conf, `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log ${kind === 'nginx-proxy_cache-log' ? `${dir}/access.log` : 'off'};
  proxy_cache_path ${dir}/cache keys_zone=bench:10m max_size=64m;
  upstream origin { server 127.0.0.1:${originPort}; keepalive 32; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache bench;
      add_header X-Cache $upstream_cache_status;
    }
  }
}
`);
    child = spawn('taskset', ['-c', '0', 'nginx', '-p', dir, '-c', conf, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'inherit'] });
  } else if (kind === 'haproxy-cache') {
    const conf = join(dir, 'haproxy.cfg');
    // HAProxy's cache honours Cache-Control max-age up to max-age here (3600 s), objects up to 64 KiB.
    writeFileSync(conf, `global
  nbthread 1
  pidfile ${dir}/haproxy.pid
defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
cache bench
  total-max-size 64
  max-object-size 65536
  max-age 3600
frontend bench
  bind 127.0.0.1:${port}
  default_backend origin
backend origin
  http-request cache-use bench
  http-response cache-store bench
  server o 127.0.0.1:${originPort}
`);
    child = spawn('taskset', ['-c', '0', 'haproxy', '-db', '-f', conf], { stdio: ['ignore', 'ignore', 'inherit'] });
  } else {
    const script = fileURLToPath(new URL('./hot-path-proxy.js', import.meta.url));
    child = fork(script, ['memory', String(port), String(originPort)], { execPath: 'taskset', execArgv: ['-c', '0', process.execPath], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  }
  const url = `http://127.0.0.1:${port}${PATH}`;
  for (let i = 0; i < 100; i++) {
    try {
      const res = await fetch(url);
      await res.text();
      // The bare Node server is the process forked (taskset execs it); nginx's and HAProxy's work is in their workers.
      if (res.ok) return { url, stop: () => stopChild(child), ...(kind === 'node-memory' && { pid: child.pid }) };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await stopChild(child);
  throw new Error(`${kind} did not start`);
}

export async function cacheHit(seconds: number, rounds: number): Promise<ScenarioResult> {
  const missing = ['wrk', 'taskset'].filter((t) => !installed(t));
  if (missing.length > 0) {
    return { scenario: 'cache', description: `skipped: needs ${missing.join(' and ')} (apt-get install -y wrk util-linux)`, rows: [], checks: [] };
  }
  const candidates: Candidate[] = ['node-memory', 'portico-cache', 'portico-cache-no-log', ...(installed('nginx') ? ['nginx-proxy_cache' as const, 'nginx-proxy_cache-log' as const] : []), ...(installed('haproxy') ? ['haproxy-cache' as const] : [])];
  let originHits = 0;
  const origin = createServer((_req, res) => {
    originHits++;
    res.writeHead(200, CACHED_HEADERS).end(CACHED_BODY);
  });
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
  const originPort = (origin.address() as AddressInfo).port;
  const runs: Record<string, number[]> = Object.fromEntries(candidates.map((c) => [c, []]));
  // Every server starts once and stays up (idle while another is measured), so a round's runs follow each other within a minute.
  const servers = new Map<Candidate, { url: string; stop(): Promise<void>; pid?: number; dir: string }>();
  const headToHead = new Map<Candidate, HeadToHead[]>();
  try {
    for (const kind of candidates) {
      const dir = mkdtempSync(join(tmpdir(), 'portico-bench-cache-'));
      const server = await start(kind, await freePort(), originPort, dir).catch((err) => { rmSync(dir, { recursive: true, force: true }); throw err; });
      servers.set(kind, { ...server, dir });
      await pinnedWrk(server.url, 1); // warm-up: the JIT, and every hit after the first miss
    }
    for (let round = 0; round < rounds; round++) {
      // Each round starts one server later: a server's place in the round must not bias it.
      for (const kind of candidates.map((_, i) => candidates[(i + round) % candidates.length]!)) runs[kind]!.push((await pinnedWrk(servers.get(kind)!.url, seconds)).rps);
    }
    // Portico against bare Node at the same moment on the same core (head-to-head.ts): the ratio that holds on a noisy machine.
    const node = servers.get('node-memory')!;
    for (const kind of ['portico-cache', 'portico-cache-no-log'] as const) {
      const portico = servers.get(kind)!;
      const results: HeadToHead[] = [];
      for (let round = 0; round < rounds; round++) results.push(await headToHeadRun({ url: portico.url, pid: portico.pid! }, { url: node.url, pid: node.pid! }, seconds));
      headToHead.set(kind, results);
    }
  } finally {
    for (const server of servers.values()) {
      await server.stop();
      rmSync(server.dir, { recursive: true, force: true });
    }
    origin.close();
  }
  const ceiling = median(runs['node-memory']!);
  const nginx = runs['nginx-proxy_cache'] ? median(runs['nginx-proxy_cache']) : undefined;
  const rows = candidates.map((kind) => ({
    server: kind, 'req/s (median)': median(runs[kind]!), spread: spread(runs[kind]!), runs: runs[kind]!.map((r) => r.toFixed(0)).join(' '),
    'vs bare Node': median(runs[kind]!) / ceiling, ...(nginx !== undefined && { 'vs nginx': median(runs[kind]!) / nginx }),
  }));
  // Checks: the median of the rounds' ratios (runs of a round share the machine's mood), with their range.
  const ratio = (a: Candidate, b: Candidate) => pairedRatio(runs[a]!, runs[b]!);
  const check = (what: string, a: Candidate, b: Candidate, target?: number) => {
    const r = ratio(a, b);
    return { what: `${what} (rounds ${r.min.toFixed(2)}–${r.max.toFixed(2)})`, target: target === undefined ? 'report' : `≥ ${target}`, value: r.median, pass: target === undefined || r.median >= target };
  };
  return {
    scenario: 'cache',
    description: `Cache hits of a ${CACHED_BODY.length}-byte JSON answer: each server pinned to core 0, wrk -t1 -c50 -d${seconds}s pinned to core 1, all servers up at once, ${rounds} round${rounds > 1 ? 's' : ''} alternating (median; spread = half the range), then Portico and bare Node head to head (both on core 0 at the same moment, each with its own wrk -c25, ${rounds} runs: the checks to read, as the machine's load cancels); Portico is the whole system on the shipped config (portico-cache: access log on, the default; -no-log: access_log: false), access logs go to files; origin requests in all: ${originHits}.${['nginx', 'haproxy'].filter((t) => !installed(t)).map((t) => ` ${t} is not installed (apt-get install -y ${t}): its row is missing.`).join('')}`,
    rows,
    checks: [
      ...(['portico-cache', 'portico-cache-no-log'] as const).map((kind) => {
        const results = headToHead.get(kind)!;
        const throughput = median(results.map((r) => r.throughput));
        const cpu = median(results.map((r) => r.cpu));
        const range = (xs: number[]) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;
        return {
          what: `Portico cache hit (access log ${kind === 'portico-cache' ? 'on' : 'off'}) / bare Node, head to head: throughput ${throughput.toFixed(2)} (${range(results.map((r) => r.throughput))}), CPU per request ${cpu.toFixed(2)} (${range(results.map((r) => r.cpu))}); the lower`,
          target: '≥ 0.85', value: Math.min(throughput, cpu), pass: Math.min(throughput, cpu) >= 0.85,
        };
      }),
      check('Portico cache hit (access log on) / bare Node http from memory', 'portico-cache', 'node-memory', 0.85),
      check('Portico cache hit (access log off) / bare Node http from memory', 'portico-cache-no-log', 'node-memory', 0.85),
      check('Portico access log on / off', 'portico-cache', 'portico-cache-no-log'),
      ...(nginx !== undefined ? [check('Portico cache hit (access log off) / nginx proxy_cache (access log off)', 'portico-cache-no-log', 'nginx-proxy_cache'), check('Portico cache hit (access log on) / nginx proxy_cache (access log on)', 'portico-cache', 'nginx-proxy_cache-log')] : []),
    ],
  };
}
