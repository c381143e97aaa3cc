/**
 * The bench's load generators. `runLoad` is closed-loop: C clients, each on
 * its own keep-alive connection, sending the next request as soon as the last
 * one is answered (so a client that gets a 503 retries at once, the worst case
 * for shedding). `runOpenLoad` is open-loop: arrivals at a fixed rate. Both
 * record latency per status code, which wrk cannot (we need 200s and 503s
 * apart), and count failed connections.
 */
import { Agent, request } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface LoadOptions {
  url: string;
  clients: number;
  durationMs: number;
  /** Excluded from the figures: connections opening, caches warming. */
  warmupMs: number;
  /** The path of the next request (for mixes); default: the url's path. */
  nextPath?: () => string;
  /** Wait as a 503's Retry-After says before the next request (well-behaved clients); default: resend at once. */
  honorRetryAfter?: boolean;
}

export interface LoadResult {
  seconds: number;
  /** Latencies in ms, by status code ("error" for failed connections). */
  latencies: Map<string, number[]>;
  errors: number;
  /** CPU seconds this generator used per second of the run. */
  generatorCpu: number;
}

/** Keep-alive connections to `url`'s host, at most `sockets` at once. */
function agentFor(target: URL, sockets: number): Agent {
  // The development certificate is self-signed: the bench measures the proxy, not the trust chain.
  const agentOptions = { keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets, rejectUnauthorized: false };
  return target.protocol === 'https:' ? new HttpsAgent(agentOptions) : new Agent(agentOptions);
}

/** One GET of `path` on the agent's connections: its status ("error" for a failed connection) and Retry-After. */
function requester(target: URL, agent: Agent) {
  const send = target.protocol === 'https:' ? httpsRequest : request;
  return (path: string) => new Promise<{ status: string; retryAfter: number }>((resolve) => {
    const req = send({ host: target.hostname, port: target.port, path, agent, headers: { connection: 'keep-alive' } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: String(res.statusCode), retryAfter: Number(res.headers['retry-after'] ?? 0) }));
      res.on('error', () => resolve({ status: 'error', retryAfter: 0 }));
    });
    req.on('error', () => resolve({ status: 'error', retryAfter: 0 }));
    req.end();
  });
}

/** CPU this process used since `cpuBefore`, per second of wall time since `started`. */
function cpuShareSince(cpuBefore: NodeJS.CpuUsage, started: number): number {
  const cpu = process.cpuUsage(cpuBefore);
  return (cpu.user + cpu.system) / 1e6 / ((performance.now() - started) / 1000);
}

function record(latencies: Map<string, number[]>, status: string, ms: number): void {
  let list = latencies.get(status);
  if (!list) latencies.set(status, (list = []));
  list.push(ms);
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const target = new URL(options.url);
  const agent = agentFor(target, options.clients);
  const latencies = new Map<string, number[]>();
  let errors = 0;
  const started = performance.now();
  const measureFrom = started + options.warmupMs;
  const end = started + options.warmupMs + options.durationMs;
  const cpuBefore = process.cpuUsage();

  const once = requester(target, agent);

  const client = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      const { status, retryAfter } = await once(options.nextPath?.() ?? target.pathname + target.search);
      const t1 = performance.now();
      if (status === '503' && options.honorRetryAfter && retryAfter > 0) {
        const sleep = Math.min(retryAfter * 1000, end - t1);
        if (t0 >= measureFrom) record(latencies, status, t1 - t0);
        await new Promise((r) => setTimeout(r, Math.max(0, sleep)));
        continue;
      }
      if (status === 'error') {
        if (t0 >= measureFrom) errors++;
        await new Promise((r) => setTimeout(r, 10)); // a refused client backs off a little, like a browser would
        continue;
      }
      if (t0 >= measureFrom) record(latencies, status, t1 - t0);
    }
  };
  await Promise.all(Array.from({ length: options.clients }, client));
  agent.destroy();
  return { seconds: options.durationMs / 1000, latencies, errors, generatorCpu: cpuShareSince(cpuBefore, started) };
}

export interface OpenLoadOptions {
  url: string;
  /** Mean arrivals per second (a Poisson process). */
  rate: number;
  durationMs: number;
  warmupMs: number;
  /** Same seed, same arrivals and the same paths: every system in a run sees the same load. */
  random: () => number;
  /** The path of the next request; default: the url's path. */
  nextPath?: () => string;
  /** Connections at most; an arrival finding them all busy waits for one (and its wait counts). */
  connections?: number;
}

/**
 * Open-loop load: requests arrive at random at a fixed mean rate whether or
 * not earlier ones were answered, as independent users do, and each latency
 * counts from the arrival. A closed-loop client stuck behind a slow request
 * stops sending, which hides that slowness from the percentiles (coordinated
 * omission); this does not. Every request that arrived in the measured window
 * is waited for, however late it comes back.
 */
export async function runOpenLoad(options: OpenLoadOptions): Promise<LoadResult> {
  const target = new URL(options.url);
  const agent = agentFor(target, options.connections ?? 256);
  const once = requester(target, agent);
  const latencies = new Map<string, number[]>();
  let errors = 0;
  const started = performance.now();
  const measureFrom = started + options.warmupMs;
  const end = measureFrom + options.durationMs;
  const cpuBefore = process.cpuUsage();
  const pending: Array<Promise<void>> = [];
  for (let arrival = started; arrival < end; arrival += -Math.log(1 - options.random()) * 1000 / options.rate) {
    const path = options.nextPath?.() ?? target.pathname + target.search;
    const wait = arrival - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const at = arrival;
    pending.push(once(path).then(({ status }) => {
      if (at < measureFrom) return;
      if (status === 'error') errors++;
      else record(latencies, status, performance.now() - at);
    }));
  }
  await Promise.all(pending);
  agent.destroy();
  return { seconds: options.durationMs / 1000, latencies, errors, generatorCpu: cpuShareSince(cpuBefore, started) };
}

/** The q-quantile (0..1) of `values`, nearest-rank; NaN for none. */
export function percentile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
