/**
 * The admin answers of several proxy workers as one: /metrics with a `worker`
 * label on every sample (each worker's counters are its own share), /status with
 * each worker's view under `workers` and the upstreams merged — in-flight
 * requests, queue depths, shed counts and caps added up across workers, a server
 * up if any worker sees it up.
 */
import type { UpstreamStats } from '../balancer/upstream.js';
import { mergeExpositions } from './metrics-all.js';
import type { WorkerReport } from './worker-reports.js';

/** One exposition from every worker's registry text, each sample labelled with its worker. */
export function workersMetrics(reports: WorkerReport[]): string {
  if (reports.length === 1) return String(reports[0]!.body);
  return mergeExpositions(reports.map((r) => ({ text: String(r.body), labels: { worker: String(r.worker) } })));
}

interface WorkerStatus {
  pid: number;
  draining: boolean;
  upstreams: UpstreamStats[];
  [field: string]: unknown;
}

/** `self`'s status with the upstreams of all workers merged, and each worker's own under `workers`. */
export function workersStatus(self: WorkerStatus, reports: WorkerReport[]): unknown {
  if (reports.length <= 1) return self;
  const statuses = reports.map((r) => ({ worker: r.worker, ...(r.body as WorkerStatus) }));
  return { ...self, upstreams: mergeUpstreams(statuses.map((s) => s.upstreams)), workers: statuses.map(({ worker, pid, draining, upstreams }) => ({ worker, pid, draining, upstreams })) };
}

function mergeUpstreams(perWorker: UpstreamStats[][]): UpstreamStats[] {
  const merged = new Map<string, UpstreamStats>();
  for (const upstreams of perWorker) {
    for (const u of upstreams) {
      const into = merged.get(u.name);
      if (!into) {
        merged.set(u.name, structuredClone(u));
        continue;
      }
      into.queue.depth += u.queue.depth;
      for (const [reason, n] of Object.entries(u.shed)) into.shed[reason as keyof typeof into.shed] = (into.shed[reason as keyof typeof into.shed] ?? 0) + n;
      for (const s of u.servers) {
        const server = into.servers.find((x) => x.url === s.url);
        if (!server) {
          into.servers.push(structuredClone(s));
          continue;
        }
        server.inflight += s.inflight;
        server.cap = server.cap === null || s.cap === null ? null : server.cap + s.cap;
        server.up ||= s.up;
      }
    }
  }
  return [...merged.values()];
}
