/**
 * A closed-loop load generator: C clients, each on its own keep-alive
 * connection, sending the next request as soon as the last one is answered
 * (so a client that gets a 503 retries at once, the worst case for shedding).
 * It records latency per status code, which wrk cannot (we need 200s and 503s
 * apart), and counts failed connections.
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

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const target = new URL(options.url);
  const secure = target.protocol === 'https:';
  // The development certificate is self-signed: the bench measures the proxy, not the trust chain.
  const agentOptions = { keepAlive: true, maxSockets: options.clients, maxFreeSockets: options.clients, rejectUnauthorized: false };
  const agent = secure ? new HttpsAgent(agentOptions) : new Agent(agentOptions);
  const send = secure ? httpsRequest : request;
  const latencies = new Map<string, number[]>();
  let errors = 0;
  const started = performance.now();
  const measureFrom = started + options.warmupMs;
  const end = started + options.warmupMs + options.durationMs;
  const cpuBefore = process.cpuUsage();

  const once = (path: string) => new Promise<{ status: string; retryAfter: number }>((resolve) => {
    const req = send({ host: target.hostname, port: target.port, path, agent, headers: { connection: 'keep-alive' } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: String(res.statusCode), retryAfter: Number(res.headers['retry-after'] ?? 0) }));
      res.on('error', () => resolve({ status: 'error', retryAfter: 0 }));
    });
    req.on('error', () => resolve({ status: 'error', retryAfter: 0 }));
    req.end();
  });

  const client = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      const { status, retryAfter } = await once(options.nextPath?.() ?? target.pathname + target.search);
      const t1 = performance.now();
      if (status === '503' && options.honorRetryAfter && retryAfter > 0) {
        const sleep = Math.min(retryAfter * 1000, end - t1);
        if (t0 >= measureFrom) (latencies.get(status) ?? latencies.set(status, []).get(status)!).push(t1 - t0);
        await new Promise((r) => setTimeout(r, Math.max(0, sleep)));
        continue;
      }
      if (status === 'error') {
        if (t0 >= measureFrom) errors++;
        await new Promise((r) => setTimeout(r, 10)); // a refused client backs off a little, like a browser would
        continue;
      }
      if (t0 < measureFrom) continue;
      let list = latencies.get(status);
      if (!list) latencies.set(status, (list = []));
      list.push(t1 - t0);
    }
  };
  await Promise.all(Array.from({ length: options.clients }, client));
  agent.destroy();
  const cpu = process.cpuUsage(cpuBefore);
  const seconds = options.durationMs / 1000;
  return { seconds, latencies, errors, generatorCpu: (cpu.user + cpu.system) / 1e6 / ((performance.now() - started) / 1000) };
}

/** The q-quantile (0..1) of `values`, nearest-rank; NaN for none. */
export function percentile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
