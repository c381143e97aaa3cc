/**
 * `npm run bench:hot-path`: what one core of Portico's proxy carries on the
 * pass-through path, beside Node's own ceiling and nginx. Each server runs
 * pinned to core 0 (taskset), wrk pinned to core 1, against a trivial origin
 * (nginx when installed, else Node). The rows:
 * - minimal proxies: Node's ceiling per forwarding path (hot-path-proxy.ts);
 * - Portico as `npm start` runs it (master, pool, HTTPS listener, the shipped
 *   config plus one pass-through route), access log on (the default, to a
 *   file) and off, and off with `metrics: false`;
 * - Portico with tracing on (sample 0.01 and 1) into an OTLP sink in this
 *   process, and, with BASELINE=DIR (a checkout of an earlier commit, built),
 *   that build on the same config: the cost of a change, side by side;
 * - nginx (one worker) with its access log off and on, and HAProxy.
 * All servers start first and stay up; rounds alternate them, a few seconds
 * each, so that noise on this shared machine spreads over all of them. Then
 * each check between Portico and a minimal proxy or another Portico row runs
 * head to head (head-to-head.ts): both
 * loaded at once on the same core, the figure to read for a few per cent
 * (HEAD_TO_HEAD=0 skips it). Two runs of the same build measured 1.01 (range
 * 0.97–1.02) head to head, and 1.11 (1.02–1.36) one after the other. Needs wrk and taskset.
 *   ROUNDS=3 HOT_PATH_SECONDS=5 ONLY=undici-pool,portico npm run bench:hot-path
 *   BASELINE=/tmp/before ONLY=portico-baseline,portico,portico-trace-0.01 npm run bench:hot-path
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { median, pairedRatio, spread, table } from './report.js';
import { availableAnchors, startAnchor, startNginxOrigin } from './anchors.js';
import { otlpSink } from './otlp-sink.js';
import { startShippedPortico } from './shipped-portico.js';
import { freePort, installed, pinnedWrk, stopChild } from './tools.js';
import { cpuSeconds } from './portico.js';
import { headToHead, type HeadToHead } from './head-to-head.js';

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SECONDS = Number(process.env.HOT_PATH_SECONDS ?? 5);
const MINIMAL = ['http-proxy-3', 'node-http-request', 'undici-pool'];
const PORTICO = ['portico', 'portico-no-log', 'portico-no-log-no-metrics', 'portico-trace-0.01', 'portico-trace-1'];
const BASELINE = process.env.BASELINE;
const PATH = '/bench/';
const LABELS: Record<string, string> = {
  'http-proxy-3': 'http-proxy-3 (minimal, keep-alive agent)',
  'node-http-request': 'node:http request (minimal)',
  'undici-pool': 'undici Pool (minimal)',
  portico: 'Portico as npm start runs it, access log on (default)',
  'portico-no-log': 'Portico, access_log: false',
  'portico-no-log-no-metrics': 'Portico, access_log: false, metrics: false',
  'portico-trace-0.01': 'Portico, access log on, tracing sample 0.01',
  'portico-trace-1': 'Portico, access log on, tracing sample 1',
  'portico-baseline': `Portico as npm start runs it, access log on, built from ${BASELINE ?? 'BASELINE'}`,
  nginx: 'nginx (one worker), access log off',
  'nginx-log': 'nginx (one worker), access log on',
  haproxy: 'HAProxy (one thread), no log',
};

const CHECKS = [
  ['Portico (access log on) / undici Pool', 'portico', 'undici-pool', 0.8],
  ['Portico (access log off) / undici Pool', 'portico-no-log', 'undici-pool', 0.8],
  ['Portico access log on / off', 'portico', 'portico-no-log', 0.85],
  ['Portico (access log off) / nginx (one worker, no access log)', 'portico-no-log', 'nginx', undefined],
  ['Portico (access log on) / nginx (one worker, access log on)', 'portico', 'nginx-log', undefined],
  ['Portico with metrics / without', 'portico-no-log', 'portico-no-log-no-metrics', 0.95],
  ['Portico (tracing off) / the BASELINE build', 'portico', 'portico-baseline', 0.98],
  ['Portico tracing sample 0.01 / tracing off', 'portico-trace-0.01', 'portico', 0.95],
  ['Portico tracing sample 1 / tracing off', 'portico-trace-1', 'portico', undefined],
  ['nginx access log on / off', 'nginx-log', 'nginx', undefined],
] as const;

type Started = Awaited<ReturnType<typeof start>>;

/** The checks between two servers whose process is known (Portico's proxy, the minimal proxies; not nginx's workers), each pair loaded at the same moment (head-to-head.ts), ROUNDS runs. */
async function measureHeadToHead(servers: Map<string, Started>): Promise<Array<[string, string, HeadToHead[]]>> {
  if (process.env.HEAD_TO_HEAD === '0') return [];
  const pairs = CHECKS.filter(([, a, b]) => servers.get(a)?.proxyPid !== undefined && servers.get(b)?.proxyPid !== undefined);
  const results: Array<[string, string, HeadToHead[]]> = pairs.map(([, a, b]) => [a, b, []]);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [a, b, runs] of results) {
      const [sa, sb] = [servers.get(a)!, servers.get(b)!];
      runs.push(await headToHead({ url: sa.url, pid: sa.proxyPid! }, { url: sb.url, pid: sb.proxyPid! }, SECONDS));
    }
  }
  return results;
}

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
async function start(kind: string, origin: string): Promise<{ url: string; stop(): Promise<unknown>; proxyPid?: number }> {
  if (kind === 'nginx' || kind === 'nginx-log' || kind === 'haproxy') {
    const anchor = await startAnchor(kind === 'haproxy' ? 'haproxy' : 'nginx', [origin], { cpus: '0', balance: 'roundrobin', accessLog: kind === 'nginx-log' });
    return { url: `${anchor.url}${PATH}`, stop: anchor.stop };
  }
  if (kind.startsWith('portico')) {
    const sample = /^portico-trace-([\d.]+)$/.exec(kind)?.[1];
    const portico = await startShippedPortico({
      path: PATH, origin, accessLog: !kind.includes('no-log'), metrics: !kind.endsWith('no-metrics'), cpus: '0',
      ...(sample !== undefined && { tracing: { otlp: await otlpSink(), sample: Number(sample) } }),
      ...(kind === 'portico-baseline' && { cli: join(BASELINE!, 'dist/bin/portico.js') }),
    }, PATH);
    return { url: `${portico.url}${PATH}`, stop: portico.stop, proxyPid: portico.proxyPid };
  }
  const port = await freePort();
  const child = await startMinimal(kind, port, Number(new URL(origin).port));
  // taskset execs node: the forked pid is the proxy's.
  return { url: `http://127.0.0.1:${port}${PATH}`, stop: () => stopChild(child), proxyPid: child.pid };
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
  const candidates = only ?? [...MINIMAL, ...(BASELINE ? ['portico-baseline'] : []), ...PORTICO, ...anchors];
  const runs: Record<string, number[]> = Object.fromEntries(candidates.map((c) => [c, []]));
  /**
   * The proxy process's CPU time per request (µs), for Portico's rows: on this shared machine a
   * neighbour's load moves throughput by a third between runs, while the CPU a request costs the
   * proxy moves far less, so the cost of a change is read from it too.
   */
  const cpuRuns: Record<string, number[]> = Object.fromEntries(candidates.map((c) => [c, []]));
  // Every server starts once and stays up, idle while another is measured: rounds then run
  // seconds apart, not minutes, so each round's ratios see the same neighbours' load (a
  // neighbour here moves throughput by a third within minutes), and no run follows a shutdown.
  const servers = new Map<string, Awaited<ReturnType<typeof start>>>();
  let headToHeads: Array<[string, string, HeadToHead[]]> = [];
  try {
    for (const kind of candidates) {
      const server = await start(kind, origin);
      servers.set(kind, server);
      await pinnedWrk(server.url, 1); // warm-up: the JIT, and the upstream connections
    }
    for (let round = 0; round < ROUNDS; round++) {
      // Each round starts one server later: a server's place in the round must not bias it.
      for (const kind of candidates.map((_, i) => candidates[(i + round) % candidates.length]!)) {
        const server = servers.get(kind)!;
        const cpu0 = server.proxyPid === undefined ? 0 : cpuSeconds(server.proxyPid);
        const { rps, requests } = await pinnedWrk(server.url, SECONDS);
        runs[kind]!.push(rps);
        if (server.proxyPid !== undefined) cpuRuns[kind]!.push(((cpuSeconds(server.proxyPid) - cpu0) / requests) * 1e6);
      }
    }
    headToHeads = await measureHeadToHead(servers);
  } finally {
    for (const server of servers.values()) await server.stop();
    await stopOrigin();
  }
  const of = (kind: string) => (runs[kind]?.length ? median(runs[kind]!) : undefined);
  const ceiling = of('undici-pool');
  const nginx = of('nginx');
  process.stdout.write(`Pass-through GET ${PATH}, each server pinned to core 0, wrk -t1 -c50 -d${SECONDS}s on core 1, ${installed('nginx') ? 'a trivial nginx origin' : 'a Node origin'} unpinned, all servers up at once, ${ROUNDS} rounds alternating (median; spread = half the range). Access logs go to a file. When nginx and the minimal proxies reach about the same figure, the origin or wrk is the limit, not the proxy.\n\n`);
  process.stdout.write(`${table(candidates.map((kind) => ({
    path: LABELS[kind] ?? kind, 'req/s (median)': of(kind)!, spread: spread(runs[kind]!), runs: runs[kind]!.map((r) => r.toFixed(0)).join(' '),
    ...(cpuRuns[kind]!.length > 0 && { 'proxy CPU µs/request (median)': median(cpuRuns[kind]!), 'CPU runs': cpuRuns[kind]!.map((c) => c.toFixed(1)).join(' ') }),
    ...(ceiling !== undefined && { 'vs undici Pool': of(kind)! / ceiling }),
    ...(nginx !== undefined && { 'vs nginx': of(kind)! / nginx }),
  })))}\n\n`);
  // The same comparisons by the proxy's CPU per request: b's ÷ a's, so that 0.95 means a costs 5 % more.
  const cpuChecks = CHECKS.filter(([, a, b]) => a.startsWith('portico') && b.startsWith('portico') && cpuRuns[a]?.length && cpuRuns[b]?.length);
  process.stdout.write(`Ratios: the median of the ${ROUNDS} rounds' ratios (each round's runs follow each other within ${Math.ceil((candidates.length * SECONDS) / 60)} min), with their range.\n\n`);
  process.stdout.write(`${table(CHECKS.filter(([, a, b]) => runs[a]?.length && runs[b]?.length).map(([what, a, b, target]) => {
    const r = pairedRatio(runs[a]!, runs[b]!);
    return { check: what, target: target === undefined ? 'report' : `≥ ${target}`, measured: r.median, range: `${r.min.toFixed(2)}–${r.max.toFixed(2)}`, result: target === undefined || r.median >= target ? 'pass' : 'FAIL' };
  }))}\n`);
  printHeadToHead(headToHeads);
  if (cpuChecks.length === 0) return;
  process.stdout.write(`\nThe same, by the proxy process's CPU time per request (its utime + stime over the run ÷ requests; the first's cost relative to the second's, inverted: a ÷ b = CPU(b) ÷ CPU(a)).\n\n`);
  process.stdout.write(`${table(cpuChecks.map(([what, a, b, target]) => {
    const r = pairedRatio(cpuRuns[b]!, cpuRuns[a]!);
    return { check: `${what} (CPU per request)`, target: target === undefined ? 'report' : `≥ ${target}`, measured: r.median, range: `${r.min.toFixed(2)}–${r.max.toFixed(2)}`, result: target === undefined || r.median >= target ? 'pass' : 'FAIL' };
  }))}\n`);
}

function printHeadToHead(results: Array<[string, string, HeadToHead[]]>): void {
  if (results.length === 0) return;
  process.stdout.write(`\nHead to head: the two proxies of each check pinned to core 0 together, each loaded by its own wrk -t1 -c25 on core 1 for ${SECONDS} s at the same moment, ${ROUNDS} runs. They share the core and whatever a neighbour takes from it, so these ratios hold where the ones above swing with the machine's load. Throughput: a's requests ÷ b's in the same seconds; CPU: b's CPU per request ÷ a's.\n\n`);
  process.stdout.write(`${table(results.map(([a, b, runs]) => {
    const [what, , , target] = CHECKS.find(([, ca, cb]) => ca === a && cb === b)!;
    const throughput = runs.map((r) => r.throughput);
    const cpu = runs.map((r) => r.cpu);
    const verdict = (m: number) => (target === undefined || m >= target ? 'pass' : 'FAIL');
    return {
      check: what, target: target === undefined ? 'report' : `≥ ${target}`,
      throughput: median(throughput), 'throughput range': `${Math.min(...throughput).toFixed(2)}–${Math.max(...throughput).toFixed(2)}`,
      'CPU per request': median(cpu), 'CPU range': `${Math.min(...cpu).toFixed(2)}–${Math.max(...cpu).toFixed(2)}`,
      result: verdict(Math.min(median(throughput), median(cpu))),
    };
  }))}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exit(1);
});
