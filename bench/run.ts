/**
 * `npm run bench`: starts a fresh Portico per scenario on free ports, drives it
 * with a closed-loop load generator, and prints figures with ratios measured in
 * the same run (these machines are shared and noisy: compare, don't trust
 * absolutes). The machine's limit comes from timing the native core here.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableParallelism, tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { loadCore } from '../backend/core.js';
import { upstreamSchema } from '../lib/config/schema.js';
import { percentile, runLoad, runOpenLoad, type LoadResult } from './load.js';
import { seededRandom } from '../lib/seeded-random.js';
import { medianRatioBound, OPEN_LOOP_SEEDS } from './queue-model.js';
import { availableAnchors, startAnchor, type AnchorKind, type AnchorOptions } from './anchors.js';
import { cacheHit } from './cache-hit.js';
import { latencyChart, throughputChart, type LatencyRow, type ThroughputBar } from './svg.js';
import { http2Scenario } from './http2.js';
import { otlpSink } from './otlp-sink.js';
import { benchConfig, cpuSeconds, startPortico } from './portico.js';
import { machine, printScenario, type ScenarioResult } from './report.js';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', multiple: true },
    duration: { type: 'string', default: '15' },
    json: { type: 'string' },
    quick: { type: 'boolean', default: false },
    compare: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '3' },
    help: { type: 'boolean', short: 'h' },
  },
});
const SCENARIOS = ['capacity', 'overload', 'mixed', 'https', 'http2', 'cache', 'scaling'] as const;
if (values.help) {
  process.stdout.write(`Usage: npm run bench -- [--scenario ${SCENARIOS.join('|')}]... [--duration S] [--rounds N] [--quick] [--compare] [--json FILE]\n  --rounds   runs of each closed-loop measurement and of each cache-hit server (default 3; the median by throughput is shown, with the range)\n  --compare  adds nginx and HAProxy (from their Debian packages) in front of the same backends\n`);
  process.exit(0);
}
const chosen = values.scenario ?? [...SCENARIOS];
for (const s of chosen) if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`unknown scenario "${s}" (known: ${SCENARIOS.join(', ')})`);
/** Rounds of the closed-loop scenarios (capacity, overload, mixed): the median run by throughput is reported, with the range. */
const ROUNDS = values.quick ? 1 : Math.max(1, Number(values.rounds));
const durationMs = (values.quick ? 3 : Number(values.duration)) * 1000;
const warmupMs = values.quick ? 500 : 2000;
/** How long every system takes cheap calls before it is measured (see `warmUp`). */
const WARM_UP_MS = values.quick ? 1000 : 5000;
const cores = availableParallelism();
const anchors = availableAnchors();
/**
 * Charts land in the source tree's bench/results/, beside this file's source,
 * which the README shows; a --quick smoke run's charts go to a temporary folder instead.
 */
const RESULTS = values.quick ? join(tmpdir(), 'portico-bench-quick/') : fileURLToPath(new URL('../../bench/results/', import.meta.url));
const VAL = 3000;
/** Portico's default queue timeout, given to HAProxy too so that both shed alike. */
const QUEUE_TIMEOUT_MS = upstreamSchema.parse({}).queue.timeout;

/** Median single-call time of foo(val), ms, measured in this process. */
async function callMs(val: number): Promise<number> {
  const core = loadCore();
  for (let i = 0; i < 3; i++) await core.foo(val);
  const times: number[] = [];
  for (let i = 0; i < 21; i++) {
    const t0 = performance.now();
    await core.foo(val);
    times.push(performance.now() - t0);
  }
  return percentile(times, 0.5);
}

/**
 * What the core alone achieves with every core computing (no HTTP, no proxy):
 * on machines whose cores share execution units, parallel calls are slower
 * than one call alone, so this is the ceiling Portico can actually approach.
 */
async function parallelCallsPerSecond(val: number, seconds = 3): Promise<number> {
  const core = loadCore();
  const end = performance.now() + seconds * 1000;
  let calls = 0;
  await Promise.all(Array.from({ length: cores }, async () => {
    while (performance.now() < end) {
      await core.foo(val);
      calls++;
    }
  }));
  return calls / seconds;
}

function figures(r: LoadResult) {
  const ok = r.latencies.get('200') ?? [];
  const shed = r.latencies.get('503') ?? [];
  const other = [...r.latencies].filter(([s]) => s !== '200' && s !== '503').reduce((n, [, l]) => n + l.length, 0);
  return {
    rps: ok.length / r.seconds, p50: percentile(ok, 0.5), p99: percentile(ok, 0.99), p999: percentile(ok, 0.999),
    shed: shed.length, shedRps: shed.length / r.seconds, shedP50: percentile(shed, 0.5), shedP99: percentile(shed, 0.99),
    other, errors: r.errors,
  };
}

/**
 * A load other than one closed loop of `clients` (the open-loop mixed runs, the
 * sliced capacity runs): given the url to load and the proxy's pid; it may
 * report the proxy's CPU per second of load itself, when it pauses between loads.
 */
type Drive = (url: string, proxyPid: number) => Promise<LoadResult & { proxyCpu?: number }>;

/**
 * Cheap calls through a fresh system before it is measured, the same for
 * every system. A Node process runs its request path in V8's baseline tiers
 * until thousands of requests have passed: the proxy used 3.0 ms of CPU per
 * foo(3000) request in its first 6 s and 0.7 ms after 24k cheap calls
 * (docs/decisions.md, "Warm before measuring"). Users run a proxy for days;
 * without this the bench measured the first seconds of each process's life.
 */
async function warmUp(base: string): Promise<void> {
  await runLoad({ url: `${base}/api/foo?val=1`, clients: 4 * cores, durationMs: WARM_UP_MS, warmupMs: 0 });
}

async function measure(upstream: string, clients: number, ms: number, nextPath?: () => string, honorRetryAfter = false, scheme: 'http' | 'https' = 'http', drive?: Drive, top = '') {
  const portico = await startPortico(top + benchConfig(upstream));
  try {
    const base = scheme === 'https' ? portico.https! : portico.http;
    await warmUp(base);
    const cpu0 = cpuSeconds(portico.proxyPid);
    const url = `${base}/api/foo?val=${VAL}`;
    const result: LoadResult & { proxyCpu?: number } = await (drive ? drive(url, portico.proxyPid) : runLoad({ url, clients, durationMs: ms, warmupMs, nextPath, honorRetryAfter }));
    const proxyCpu = result.proxyCpu ?? (cpuSeconds(portico.proxyPid) - cpu0) / ((ms + warmupMs) / 1000);
    return { ...figures(result), proxyCpu, generatorCpu: result.generatorCpu };
  } finally {
    await portico.stop();
  }
}

/** The median of `runs` by `key` (throughput), with the throughput and key ranges of all. */
function medianOf<F extends { rps: number }>(runs: F[], key: (f: F) => number): F & { range: string; keyRange: string } {
  const sorted = [...runs].sort((a, b) => key(a) - key(b));
  const median = sorted[Math.floor(sorted.length / 2)]!;
  const rps = runs.map((r) => r.rps).sort((a, b) => a - b);
  const keys = sorted.map(key);
  return {
    ...median,
    range: runs.length > 1 ? `${rps[0]!.toFixed(1)}–${rps.at(-1)!.toFixed(1)}` : '',
    keyRange: runs.length > 1 ? `${keys[0]!.toFixed(2)}–${keys.at(-1)!.toFixed(2)}` : '',
  };
}

/** Runs `measure` ROUNDS times; the median run by `key` (throughput), with the throughput range of all. */
async function repeated<F extends { rps: number }>(measure: () => Promise<F>, key: (f: F) => number = (f) => f.rps): Promise<F & { range: string; keyRange: string }> {
  return (await alternated([measure], key))[0]!;
}

/**
 * ROUNDS rounds of every system in turn (A, B, C, A, B, C…), so that the
 * machine's drift, which moved round-robin's throughput by a fifth between two
 * runs of the same code, falls on every system alike; each one's median by `key`.
 */
async function alternated<F extends { rps: number }>(systems: Array<() => Promise<F>>, key: (f: F) => number = (f) => f.rps): Promise<Array<F & { range: string; keyRange: string }>> {
  const runs: F[][] = systems.map(() => []);
  for (let round = 0; round < ROUNDS; round++) for (const [i, measure] of systems.entries()) runs[i]!.push(await measure());
  return runs.map((list) => medianOf(list, key));
}

/**
 * The same load through an anchor (nginx or HAProxy) in front of a fresh
 * Portico pool's backends (Portico's own proxy idles meanwhile).
 */
async function measureAnchor(kind: AnchorKind, options: AnchorOptions, clients: number, ms: number, nextPath?: () => string, drive?: Drive) {
  const portico = await startPortico(benchConfig('policy: least-outstanding'));
  try {
    const status = (await (await fetch(`${portico.admin}/status`)).json()) as { upstreams: Array<{ servers: Array<{ url: string }> }> };
    const anchor = await startAnchor(kind, status.upstreams[0]!.servers.map((s) => s.url), options);
    try {
      await warmUp(anchor.url);
      const cpu0 = cpuSeconds(anchor.pid);
      const url = `${anchor.url}/api/foo?val=${VAL}`;
      const result: LoadResult & { proxyCpu?: number } = await (drive ? drive(url, anchor.pid) : runLoad({ url, clients, durationMs: ms, warmupMs, nextPath }));
      const proxyCpu = result.proxyCpu ?? (cpuSeconds(anchor.pid) - cpu0) / ((ms + warmupMs) / 1000);
      return { ...figures(result), proxyCpu, generatorCpu: result.generatorCpu };
    } finally {
      await anchor.stop();
    }
  } finally {
    await portico.stop();
  }
}

/** The anchors to add to a scenario with --compare: nginx as users run it, and HAProxy with per-server maxconn and a queue. */
function anchorRuns(maxconn: number | undefined): Array<[string, AnchorKind, AnchorOptions]> {
  if (!values.compare) return [];
  return anchors.kinds.map((kind) => (kind === 'nginx'
    ? ['nginx (round-robin, keep-alive)', kind, {}]
    : [`HAProxy (leastconn${maxconn ? `, maxconn ${maxconn}` : ''}, queue ${QUEUE_TIMEOUT_MS / 1000} s)`, kind, { balance: 'leastconn', maxconn, queueTimeoutMs: QUEUE_TIMEOUT_MS }]));
}

function writeChart(name: string, title: string, subtitle: string, rows: LatencyRow[]): void {
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, `${name}.svg`), latencyChart(title, rows, subtitle));
}

/**
 * This machine's speed drifts by more than the margins measured here (the
 * limit moved from 44 to 29 req/s within an hour): a round run through this
 * times the native core just before and after it, and carries that limit.
 */
async function withLimit<F extends { rps: number }>(run: () => Promise<F>): Promise<F & { limit: number; callMs: number }> {
  const before = await callMs(VAL);
  const f = await run();
  const after = await callMs(VAL);
  const call = (before + after) / 2;
  return { ...f, limit: cores / (call / 1000), callMs: call };
}
const ofLimit = (x: { rps: number; limit: number }) => x.rps / x.limit;

/** Capacity's load comes in slices this long, each after a timing of the single call. */
const SLICE_MS = 3000;

/**
 * A closed loop of `clients` for `totalMs` in slices, with the single call
 * timed before every slice and after the last: this machine's speed moves
 * within a minute by more than the margins measured, so throughput and limit
 * are taken from the same seconds. `limit()` is read after the drive.
 */
function slicedLoad(clients: number, totalMs: number): { drive: Drive; limit(): { limit: number; callMs: number; parallel: number } } {
  const calls: number[] = [];
  const parallel: number[] = [];
  const time = async () => {
    calls.push(await callMs(VAL));
    parallel.push(await parallelCallsPerSecond(VAL, 1.5));
  };
  const drive: Drive = async (url, proxyPid) => {
    const latencies = new Map<string, number[]>();
    let errors = 0;
    let seconds = 0;
    let generatorCpu = 0;
    let proxyCpu = 0;
    for (let done = 0; done < totalMs; done += SLICE_MS) {
      await time();
      const cpu0 = cpuSeconds(proxyPid);
      const r = await runLoad({ url, clients, durationMs: Math.min(SLICE_MS, totalMs - done), warmupMs: values.quick ? 200 : 500 });
      proxyCpu += cpuSeconds(proxyPid) - cpu0;
      for (const [status, list] of r.latencies) {
        const merged = latencies.get(status);
        if (merged) merged.push(...list);
        else latencies.set(status, list);
      }
      errors += r.errors;
      seconds += r.seconds;
      generatorCpu += r.generatorCpu * r.seconds;
    }
    await time();
    return { seconds, latencies, errors, generatorCpu: generatorCpu / seconds, proxyCpu: proxyCpu / seconds };
  };
  return { drive, limit: () => { const call = percentile(calls, 0.5); return { limit: cores / (call / 1000), callMs: call, parallel: percentile(parallel, 0.5) }; } };
}

/** One capacity round through `run`, with the limit of its own seconds. */
async function slicedRound<F extends { rps: number }>(run: (drive: Drive) => Promise<F>): Promise<F & { limit: number; callMs: number; parallel: number }> {
  const sliced = slicedLoad(2 * cores, durationMs);
  const f = await run(sliced.drive);
  return { ...f, ...sliced.limit() };
}

async function capacity(limit: number): Promise<ScenarioResult & { rps: number; share: number }> {
  // Tracing's cost on the inference path: every hop's spans into a sink that answers at once.
  const sink = await otlpSink();
  const traced = (sample: number) => () => slicedRound((drive) =>
    measure('policy: least-outstanding', 2 * cores, durationMs, undefined, false, 'http', drive, `tracing: { otlp: "${sink}", sample: ${sample} }\n`));
  const anchorsOf = anchorRuns(1);
  // Every system's rounds in turn, so that the machine's drift falls on each alike.
  const measured = await alternated([
    () => slicedRound((drive) => measure('policy: least-outstanding', 2 * cores, durationMs, undefined, false, 'http', drive)),
    traced(0.01),
    traced(1),
    ...anchorsOf.map(([, kind, options]) => () => slicedRound((drive) => measureAnchor(kind, options, 2 * cores, durationMs, undefined, drive))),
  ], ofLimit);
  const [f, sampled, everything] = [measured[0]!, measured[1]!, measured[2]!];
  const row = (system: string, x: typeof f) => ({ system, 'req/s': x.rps, 'req/s range': x.range, 'limit req/s': x.limit, 'of limit': ofLimit(x), 'of limit range': x.keyRange, 'core alone, all cores req/s': x.parallel, 'of core alone': x.rps / x.parallel, 'p50 ms': x.p50, 'p99 ms': x.p99, errors: x.errors + x.other, 'proxy CPU': x.proxyCpu, 'generator CPU': x.generatorCpu });
  const rows = [row('Portico', f), row('Portico, tracing sample 0.01', sampled), row('Portico, tracing sample 1', everything)];
  for (const [i, [name]] of anchorsOf.entries()) rows.push(row(name, measured[3 + i]!));
  const nginxIndex = anchorsOf.findIndex(([, kind]) => kind === 'nginx');
  const nginx = nginxIndex < 0 ? undefined : measured[3 + nginxIndex]!;
  return {
    scenario: 'capacity', rps: f.rps, share: ofLimit(f),
    description: `foo(${VAL}), ${2 * cores} closed-loop clients (2 per core), default pool and policy, ${durationMs / 1000} s a round in ${SLICE_MS / 1000} s slices; each round's limit is ${cores} cores ÷ the median single-call time timed before every slice and after the last (the machine's speed drifts), "core alone" the median calls per second of the core on all cores at once timed with it, and the median round by share of its limit is shown. The limit at the start of the run was ${limit.toFixed(1)} req/s.`,
    rows,
    checks: [
      { what: 'throughput / machine limit', target: '≥ 0.95', value: ofLimit(f), pass: ofLimit(f) >= 0.95 },
      { what: 'tracing sample 0.01 / off, shares of the limit', target: '≥ 0.95', value: ofLimit(sampled) / ofLimit(f), pass: ofLimit(sampled) / ofLimit(f) >= 0.95 },
      ...(nginx ? [{ what: 'share of the limit, Portico − nginx', target: '≥ −0.01', value: ofLimit(f) - ofLimit(nginx), pass: ofLimit(f) - ofLimit(nginx) >= -0.01 }] : []),
    ],
  };
}

async function overload(capacity: { rps: number; share: number }): Promise<ScenarioResult> {
  const ms = values.quick ? durationMs : Math.max(durationMs, 20_000);
  const big = await repeated(() => withLimit(() => measure('policy: least-outstanding', 1000, ms)), ofLimit);
  // --quick: the default queue only (under 2 minutes for the whole bench).
  const small = values.quick ? undefined : { ...(await withLimit(() => measure('policy: least-outstanding\nqueue: { size: 10 }', 1000, ms))), range: '', keyRange: '' };
  const polite = values.quick ? undefined : { ...(await withLimit(() => measure('policy: least-outstanding\nqueue: { size: 10 }', 1000, ms, undefined, true))), range: '', keyRange: '' };
  // Goodput against capacity, each as a share of the limit timed around its own round (drift).
  const ofCapacity = (f: { rps: number; limit: number }) => ofLimit(f) / capacity.share;
  const row = (name: string, f: Awaited<ReturnType<typeof measure>> & { range: string; limit: number }) => ({
    'system, queue, clients': name, 'goodput req/s': f.rps, 'goodput range': f.range, 'limit req/s': f.limit, 'of capacity': ofCapacity(f), 'failed conns': f.errors, '200 p50 ms': f.p50, '200 p99 ms': f.p99,
    '503/s': f.shedRps, '503 p50 ms': f.shedP50, '503 p99 ms': f.shedP99, 'proxy CPU': f.proxyCpu, 'generator CPU': f.generatorCpu,
  });
  const bound = QUEUE_TIMEOUT_MS + 2 * big.callMs;
  const rows = [row(`Portico, default queue (1000, ${QUEUE_TIMEOUT_MS / 1000} s), resend at once`, big)];
  if (small && polite) rows.push(row('Portico, queue 10, resend at once', small), row('Portico, queue 10, honour Retry-After', polite));
  const goodput = (f: typeof big) => `${f.rps.toFixed(0)} req/s`;
  const chart: LatencyRow[] = [{ system: `Portico, ${goodput(big)}`, p50: big.p50, p99: big.p99 }];
  if (small) chart.push({ system: `Portico queue 10, ${goodput(small)}`, p50: small.p50, p99: small.p99 });
  const anchorFigures: Array<[string, Awaited<ReturnType<typeof measure>>]> = [];
  for (const [name, kind, options] of anchorRuns(1)) {
    const f = await repeated(() => withLimit(() => measureAnchor(kind, options, 1000, ms)), ofLimit);
    anchorFigures.push([name, f]);
    rows.push(row(`${name}, resend at once`, f));
    chart.push({ system: `${name.split(' (')[0]!}, ${goodput(f)}`, p50: f.p50, p99: f.p99 });
  }
  writeChart('overload', 'Overload: 1000 clients, foo(3000): goodput and admitted (200) latency', `npm run bench ${new Date().toISOString().slice(0, 10)}, ${cores} cores`, chart);
  const nginx = anchorFigures.find(([name]) => name.startsWith('nginx'))?.[1];
  return {
    scenario: 'overload',
    description: `1000 closed-loop clients for ${ms / 1000} s, foo(${VAL}); clients resend at once after a 503. Capacity goodput ${capacity.rps.toFixed(1)} req/s (${capacity.share.toFixed(2)} of its limit) from the capacity scenario of this run; "of capacity" compares shares of the limit timed around each round, and the bound uses the call time timed around the median round.`,
    rows,
    checks: [
      ...(nginx ? [{ what: 'goodput Portico / nginx', target: '≥ 1', value: big.rps / nginx.rps, pass: big.rps >= nginx.rps }] : []),
      { what: 'goodput / capacity goodput', target: '≥ 0.9', value: ofCapacity(big), pass: ofCapacity(big) >= 0.9 },
      { what: 'failed connections', target: '0', value: big.errors + (small?.errors ?? 0), pass: big.errors + (small?.errors ?? 0) === 0 },
      { what: `200 p99 ms vs queue timeout + 2 × call (${bound.toFixed(0)} ms)`, target: `≤ ${bound.toFixed(0)}`, value: big.p99, pass: big.p99 <= bound },
      ...(polite ? [{ what: '503 p99 ms with queue size 10, clients honouring Retry-After', target: '< 50', value: polite.shedP99, pass: polite.shedP99 < 50 }] : []),
    ],
  };
}

/** The open-loop mixed runs arrive at this share of least-outstanding's closed-loop throughput: busy, but not past what it can serve. */
const OPEN_LOOP_SHARE = 0.7;

async function mixed(): Promise<ScenarioResult> {
  const cheap = 1000;
  const dear = 100_000;
  let n = 0;
  // Every tenth request is 100× dearer; a fixed pattern, so each policy sees the same mix.
  const nextPath = () => `/api/foo?val=${n++ % 10 === 9 ? dear : cheap}`;
  // max_inflight 4 lets a backend queue as many as nginx would (4 clients): the policy alone decides; "auto" is the default.
  const runs = values.quick
    ? ([['round-robin', 'max_inflight: 4'], ['least-outstanding', 'max_inflight: auto']] as const)
    : ([
      ['round-robin', 'max_inflight: 4'], ['least-outstanding', 'max_inflight: 4'], ['least-outstanding', 'max_inflight: auto'],
      ['p2c', 'max_inflight: 4'], ['weighted-round-robin', 'max_inflight: 4'],
    ] as const);
  type Figures = Awaited<ReturnType<typeof measure>>;
  const mixRow = (policy: string, cap: string, f: Figures, range: string) => ({
    policy, cap, 'req/s': f.rps, 'req/s range': range, 'p50 ms': f.p50, 'p99 ms': f.p99, 'p99.9 ms': f.p999, errors: f.errors + f.other + f.shed,
  });
  const rows: Array<ReturnType<typeof mixRow>> = [];
  const anchorCap = (kind: AnchorKind) => (kind === 'haproxy' ? '1' : 'none');
  const ms = values.quick ? durationMs : Math.max(durationMs, 20_000);
  const anchorsOf = anchorRuns(1);
  /** Closed-loop rounds of Portico under each policy and of every anchor, taken in turn (the checks compare Portico with HAProxy, so drift must fall on both); each one's median. */
  const closedLoop = async (policies: ReadonlyArray<readonly [string, string]>, next: () => string) => {
    const medians = await alternated([
      ...policies.map(([policy, cap]) => () => measure(`policy: ${policy}\n${cap}`, 2 * cores, ms, next)),
      ...anchorsOf.map(([, kind, options]) => () => measureAnchor(kind, options, 2 * cores, ms, next)),
    ]);
    return { portico: medians.slice(0, policies.length), anchors: anchorsOf.map(([name, kind], i) => ({ name, kind, f: medians[policies.length + i]! })) };
  };
  const results: Record<string, Figures> = {};
  const closed = await closedLoop(runs, nextPath);
  for (const [i, [policy, cap]] of runs.entries()) {
    const f = closed.portico[i]!;
    results[`${policy} ${cap}`] = f;
    rows.push(mixRow(policy, cap.split(': ')[1]!, f, f.range));
  }
  const lo = results['least-outstanding max_inflight: auto']!;
  const rr = results['round-robin max_inflight: 4']!;
  const chart: LatencyRow[] = [{ system: 'Portico least-outstanding', p50: lo.p50, p99: lo.p99, 'p99.9': lo.p999 }, { system: 'Portico round-robin', p50: rr.p50, p99: rr.p99, 'p99.9': rr.p999 }];
  let haproxy: Figures | undefined;
  for (const { name, kind, f } of closed.anchors) {
    if (kind === 'haproxy') haproxy = f;
    rows.push(mixRow(name, anchorCap(kind), f, f.range));
    chart.push({ system: name.split(' (')[0]!, p50: f.p50, p99: f.p99, 'p99.9': f.p999 });
  }
  // Open loop: the same mix arriving at random (seeded: every system sees the same arrivals and
  // paths) at a share of least-outstanding's closed-loop throughput, latency from each arrival.
  // Closed-loop clients stuck behind a dear call stop sending, which hides that wait from the
  // percentiles; independent users do not stop (docs/decisions.md, "Mixed cost").
  const rate = OPEN_LOOP_SHARE * lo.rps;
  const openMs = values.quick ? durationMs : Math.max(durationMs, 40_000);
  const dearShare = 0.1;
  const openDrive: Drive = (url) => {
    const mix = seededRandom(OPEN_LOOP_SEEDS.mix);
    return runOpenLoad({ url, rate, durationMs: openMs, warmupMs, random: seededRandom(OPEN_LOOP_SEEDS.arrivals), nextPath: () => `/api/foo?val=${mix() < dearShare ? dear : cheap}` });
  };
  const open: Record<string, Figures> = {};
  const openRow = (policy: string, cap: string, f: Figures) => rows.push(mixRow(`${policy}, open loop ${rate.toFixed(1)}/s`, cap, f, ''));
  for (const [policy, cap] of [['round-robin', 'max_inflight: 4'], ['least-outstanding', 'max_inflight: auto']] as const) {
    const f = await measure(`policy: ${policy}\n${cap}`, 0, openMs, undefined, false, 'http', openDrive);
    open[policy] = f;
    openRow(policy, cap.split(': ')[1]!, f);
  }
  for (const [name, kind, options] of anchorsOf) {
    const f = await measureAnchor(kind, options, 0, openMs, undefined, openDrive);
    if (kind === 'haproxy') open.haproxy = f;
    openRow(name, anchorCap(kind), f);
  }
  const openLo = open['least-outstanding']!;
  const openRr = open['round-robin']!;
  // The best p50 ratio any dispatcher that does not know costs ahead can reach on these arrivals (bench/queue-model.ts):
  // the closed loop's throughput taken as capacity, so the model runs at OPEN_LOOP_SHARE of it.
  const meanCallMs = (cores * 1000) / lo.rps;
  const cheapMs = meanCallMs / (1 - dearShare + dearShare * (dear / cheap));
  const bound = medianRatioBound({ rate, durationMs: openMs, warmupMs, dearShare, cheapMs, dearMs: cheapMs * (dear / cheap) }, cores);
  const boundNote = `; an ideal central queue (no overhead) on the same arrivals: ${bound.thisRun.toFixed(2)}, on 200 other seeds ${bound.p10.toFixed(2)}–${bound.p90.toFixed(2)} (10th–90th percentile), median ${bound.p50.toFixed(2)}`;
  // The second mix of issue 22: cheaper calls, the same 100× ratio, where the proxy's round trip weighs more.
  const [cheap2, dear2] = [300, 30_000];
  let m = 0;
  const nextPath2 = () => `/api/foo?val=${m++ % 10 === 9 ? dear2 : cheap2}`;
  const mix2 = `foo(${cheap2})/foo(${dear2})`;
  const second: Record<string, Figures> = {};
  const runs2 = [['round-robin', 'max_inflight: 4'], ['least-outstanding', 'max_inflight: auto']] as const;
  const closed2 = await closedLoop(runs2, nextPath2);
  for (const [i, [policy, cap]] of runs2.entries()) {
    const f = closed2.portico[i]!;
    second[policy] = f;
    rows.push(mixRow(`${policy}, ${mix2}`, cap.split(': ')[1]!, f, f.range));
  }
  for (const { name, kind, f } of closed2.anchors) {
    if (kind === 'haproxy') second.haproxy = f;
    rows.push(mixRow(`${name}, ${mix2}`, anchorCap(kind), f, f.range));
  }
  const lo2 = second['least-outstanding']!;
  const haproxy2 = second.haproxy;
  const openHaproxy = open.haproxy;
  writeChart('mixed', 'Mixed cost: 90 % foo(1000), 10 % foo(100000), 4 clients', `npm run bench ${new Date().toISOString().slice(0, 10)}, ${cores} cores`, chart);
  return {
    scenario: 'mixed',
    description: `90 % foo(${cheap}), 10 % foo(${dear}) (100× dearer), ${2 * cores} closed-loop clients, ${ms / 1000} s per run, and the same for 90 % foo(${cheap2}), 10 % foo(${dear2}); then open loop: the mix (dear at random, 10 %) arriving at random at ${OPEN_LOOP_SHARE} × least-outstanding's closed-loop throughput, ${openMs / 1000} s, latency counted from each arrival. Checks compare the default (least-outstanding, cap auto) with round-robin as nginx runs it (no effective cap); errors include 503s.`,
    rows,
    checks: [
      { what: 'throughput least-outstanding / round-robin', target: '≥ 1.3', value: lo.rps / rr.rps, pass: lo.rps / rr.rps >= 1.3 },
      { what: 'p50 least-outstanding / round-robin', target: '≤ 0.3', value: lo.p50 / rr.p50, pass: lo.p50 / rr.p50 <= 0.3 },
      { what: 'p99 least-outstanding / round-robin', target: '≤ 1', value: lo.p99 / rr.p99, pass: lo.p99 / rr.p99 <= 1 },
      { what: `open loop: p50 least-outstanding / round-robin${boundNote}`, target: '≤ 0.3', value: openLo.p50 / openRr.p50, pass: openLo.p50 / openRr.p50 <= 0.3 },
      { what: 'open loop: p99 least-outstanding / round-robin', target: '≤ 1', value: openLo.p99 / openRr.p99, pass: openLo.p99 / openRr.p99 <= 1 },
      ...(haproxy ? [
        { what: 'throughput Portico / HAProxy leastconn maxconn 1', target: '≥ 1', value: lo.rps / haproxy.rps, pass: lo.rps >= haproxy.rps },
        { what: 'p50 Portico / HAProxy leastconn maxconn 1', target: '≤ 1', value: lo.p50 / haproxy.p50, pass: lo.p50 <= haproxy.p50 },
        { what: 'p99 Portico / HAProxy leastconn maxconn 1', target: '≤ 1', value: lo.p99 / haproxy.p99, pass: lo.p99 <= haproxy.p99 },
      ] : []),
      ...(haproxy2 ? [
        { what: `foo(${cheap2})/foo(${dear2}): throughput Portico / HAProxy`, target: '≥ 1', value: lo2.rps / haproxy2.rps, pass: lo2.rps >= haproxy2.rps },
        { what: `foo(${cheap2})/foo(${dear2}): p50 Portico / HAProxy`, target: '≤ 1', value: lo2.p50 / haproxy2.p50, pass: lo2.p50 <= haproxy2.p50 },
        { what: `foo(${cheap2})/foo(${dear2}): p99 Portico / HAProxy`, target: '≤ 1', value: lo2.p99 / haproxy2.p99, pass: lo2.p99 <= haproxy2.p99 },
      ] : []),
      ...(openHaproxy ? [
        { what: 'open loop: p99 Portico / HAProxy', target: '≤ 1', value: openLo.p99 / openHaproxy.p99, pass: openLo.p99 <= openHaproxy.p99 },
      ] : []),
    ],
  };
}

/**
 * Throughput with 1, 2, ... 2 × cores backends (2 clients each), against the
 * machine's limit for that many: min(backends, cores) ÷ the call time.
 */
async function scaling(call: number): Promise<ScenarioResult> {
  const rows = [];
  const bars: ThroughputBar[] = [];
  for (const n of values.quick ? [1, cores] : Array.from({ length: 2 * cores }, (_, i) => i + 1)) {
    const portico = await startPortico(benchConfig('policy: least-outstanding', '', n));
    try {
      const result = await runLoad({ url: `${portico.http}/api/foo?val=${VAL}`, clients: 2 * n, durationMs: values.quick ? durationMs : Math.min(durationMs, 10_000), warmupMs });
      const f = figures(result);
      const limit = Math.min(n, cores) / (call / 1000);
      rows.push({ backends: String(n), clients: String(2 * n), 'req/s': f.rps, 'limit req/s': limit, 'of limit': f.rps / limit, 'p50 ms': f.p50, 'p99 ms': f.p99, errors: f.errors + f.other });
      bars.push({ label: `${n} backend${n > 1 ? 's' : ''}`, value: f.rps, limit });
    } finally {
      await portico.stop();
    }
  }
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, 'scaling.svg'), throughputChart(`Throughput vs backends, foo(${VAL})`, bars, `npm run bench ${new Date().toISOString().slice(0, 10)}, ${cores} cores; dashed: the machine's limit for that many backends`));
  const atCores = rows.find((r) => r.backends === String(cores))!;
  return {
    scenario: 'scaling',
    description: `foo(${VAL}) through Portico with 1 to ${2 * cores} backends (2 closed-loop clients per backend); the limit is min(backends, cores) ÷ the call time measured in this run. More backends than cores only share the cores.`,
    rows,
    checks: [{ what: `throughput / limit with ${cores} backends (one per core, the default)`, target: '≥ 0.95', value: Number(atCores['of limit']), pass: Number(atCores['of limit']) >= 0.95 }],
  };
}

/** The inference path over HTTPS against plain HTTP, alternating so that drift hits both alike; with --compare, the anchors' own ratio. */
async function https(): Promise<ScenarioResult> {
  type Figures = Awaited<ReturnType<typeof measure>>;
  const systems: Array<[string, (scheme: 'http' | 'https') => Promise<Figures>]> = [
    ['Portico', (scheme) => measure('policy: least-outstanding', 2 * cores, durationMs, undefined, false, scheme)],
    ...anchorRuns(1).map(([name, kind, options]) => [name, (scheme: 'http' | 'https') => measureAnchor(kind, { ...options, tls: scheme === 'https' }, 2 * cores, durationMs)] as [string, (scheme: 'http' | 'https') => Promise<Figures>]),
  ];
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const rows = [];
  let porticoRatio = NaN;
  for (const [system, run] of systems) {
    const runs: Record<'http' | 'https', Figures[]> = { http: [], https: [] };
    for (let round = 0; round < (values.quick ? 1 : 2); round++) for (const scheme of ['http', 'https'] as const) runs[scheme].push(await run(scheme));
    for (const scheme of ['http', 'https'] as const) {
      rows.push({
        system, scheme, 'req/s': mean(runs[scheme].map((f) => f.rps)), 'p50 ms': mean(runs[scheme].map((f) => f.p50)), 'p99 ms': mean(runs[scheme].map((f) => f.p99)),
        'proxy CPU': mean(runs[scheme].map((f) => f.proxyCpu)), errors: runs[scheme].reduce((n, f) => n + f.errors + f.other, 0),
        'HTTPS / HTTP': scheme === 'https' ? mean(runs.https.map((f) => f.rps)) / mean(runs.http.map((f) => f.rps)) : '',
      });
    }
    if (system === 'Portico') porticoRatio = mean(runs.https.map((f) => f.rps)) / mean(runs.http.map((f) => f.rps));
  }
  return {
    scenario: 'https',
    description: `foo(${VAL}), ${2 * cores} clients with keep-alive, an EC P-256 certificate, TLS 1.3 where the client and server agree on it; ${values.quick ? 'one' : 'two'} ${durationMs / 1000} s run${values.quick ? '' : 's'} per scheme and system, alternating; means.`,
    rows,
    checks: [{ what: 'Portico HTTPS / HTTP throughput', target: '≥ 0.97', value: porticoRatio, pass: porticoRatio >= 0.97 }],
  };
}

async function main(): Promise<void> {
  const m = machine();
  const call = await callMs(VAL);
  const limit = cores / (call / 1000);
  const parallel = await parallelCallsPerSecond(VAL);
  process.stdout.write(`# Portico bench ${m.date}\n${m.cores} cores, ${m.cpu}, Node ${m.node}\n`);
  process.stdout.write(`Load generator: closed-loop Node clients (bench/load.ts; open-loop arrivals for part of the mixed scenario), on the same machine as Portico.\n`);
  if (values.compare) for (const line of anchors.missing) process.stdout.write(`--compare: ${line}\n`);
  process.stdout.write(`Native core: foo(${VAL}) takes ${call.toFixed(1)} ms here; machine limit = ${cores} cores / call time = ${limit.toFixed(1)} req/s; the core alone on all ${cores} cores at once (no HTTP): ${parallel.toFixed(1)} calls/s.\n`);
  const results: ScenarioResult[] = [];
  let capacityFigures: { rps: number; share: number } | undefined;
  for (const name of chosen) {
    let result: ScenarioResult;
    if (name === 'capacity') {
      const c = await capacity(limit);
      capacityFigures = c;
      result = c;
    } else if (name === 'overload') {
      capacityFigures ??= await capacity(limit);
      result = await overload(capacityFigures);
    } else if (name === 'mixed') {
      result = await mixed();
    } else if (name === 'https') {
      result = await https();
    } else if (name === 'scaling') {
      result = await scaling(call);
    } else if (name === 'http2') {
      result = await http2Scenario(durationMs / 1000, values.quick ? 1 : 2);
    } else {
      result = await cacheHit(Math.min(durationMs / 1000, 5), ROUNDS);
    }
    printScenario(result);
    results.push(result);
  }
  if (values.json) writeFileSync(values.json, JSON.stringify({ machine: m, callMs: call, limitRps: limit, results }, null, 2));
}

main().catch((err: Error) => {
  process.stderr.write(`bench: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
