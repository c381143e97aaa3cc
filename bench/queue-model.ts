/**
 * What the mixed scenario's open-loop check can show, worked out without a
 * proxy: the run's own arrivals (the same seeds as `runOpenLoad`) served by
 * two ideal dispatchers in simulation, with no overhead of any kind.
 * - round-robin: each server has its own line, taken in turn (nginx's default);
 * - central queue: one line, each request to the first server free, first
 *   come first served (HAProxy with `maxconn 1`; no dispatcher that does not
 *   know a request's cost ahead does better on the median).
 * The ratio of their medians is the best "p50 ÷ round-robin's" a policy can
 * reach on that run, and its spread over other seeds says how far one run of
 * a few hundred requests can be trusted (docs/decisions.md, issue 22).
 */
import { percentile } from './load.js';
import { seededRandom } from '../lib/seeded-random.js';

export interface Job {
  /** Arrival, ms. */
  at: number;
  /** Service time, ms. */
  cost: number;
}

/** Latency of each job (in order) when `pick` chooses its server, given when each frees up; each waits for that server's earlier jobs. */
function dispatch(jobs: readonly Job[], servers: number, pick: (free: readonly number[], i: number) => number): number[] {
  const free = new Array<number>(servers).fill(0);
  return jobs.map((job, i) => {
    const s = pick(free, i);
    free[s] = Math.max(job.at, free[s]!) + job.cost;
    return free[s]! - job.at;
  });
}

/** Job i goes to server i mod n. */
export function roundRobin(jobs: readonly Job[], servers: number): number[] {
  return dispatch(jobs, servers, (_, i) => i % servers);
}

/** One first-come-first-served line in front of the servers: in arrival order, each job to the server that frees first. */
export function centralQueue(jobs: readonly Job[], servers: number): number[] {
  return dispatch(jobs, servers, (free) => free.indexOf(Math.min(...free)));
}

/**
 * One central line ranked by arrival plus cost, with the costs known (what Portico's
 * `queue.priority: cost` approximates by learning them): when a server frees, the
 * waiting job with the smallest `at + cost` starts there. A cheap job overtakes a dear
 * one that came less than the dear one's cost before it; none waits longer than its
 * own cost behind later ones.
 */
export function costRankedQueue(jobs: readonly Job[], servers: number): number[] {
  const free = new Array<number>(servers).fill(0);
  const latency = new Array<number>(jobs.length);
  const waiting: number[] = [];
  let next = 0;
  while (next < jobs.length || waiting.length > 0) {
    const s = free.indexOf(Math.min(...free));
    // The server takes what waits when it frees; with nothing waiting, the next arrival.
    const now = waiting.length > 0 ? free[s]! : Math.max(free[s]!, jobs[next]!.at);
    while (next < jobs.length && jobs[next]!.at <= now) waiting.push(next++);
    let best = 0;
    for (let k = 1; k < waiting.length; k++) {
      const a = jobs[waiting[k]!]!, b = jobs[waiting[best]!]!;
      if (a.at + a.cost < b.at + b.cost) best = k;
    }
    const i = waiting.splice(best, 1)[0]!;
    free[s] = now + jobs[i]!.cost;
    latency[i] = free[s]! - jobs[i]!.at;
  }
  return latency;
}

export interface OpenLoopMix {
  /** Mean arrivals per second. */
  rate: number;
  durationMs: number;
  warmupMs: number;
  /** Share of dear requests, and the two service times (ms). */
  dearShare: number;
  cheapMs: number;
  dearMs: number;
}

/** The seeds of the mixed scenario's open loop (bench/run.ts): its arrival times, and which arrivals are dear. */
export const OPEN_LOOP_SEEDS = { arrivals: 1, mix: 2 } as const;

/** The arrivals `runOpenLoad` makes from these seeds, one mix draw per arrival; `measured` marks those past the warm-up. */
export function openLoopJobs(mix: OpenLoopMix, arrivalSeed: number, mixSeed: number): { jobs: Job[]; measured: boolean[] } {
  const random = seededRandom(arrivalSeed);
  const dear = seededRandom(mixSeed);
  const jobs: Job[] = [];
  const measured: boolean[] = [];
  const end = mix.warmupMs + mix.durationMs;
  for (let at = 0; at < end; at += -Math.log(1 - random()) * 1000 / mix.rate) {
    jobs.push({ at, cost: dear() < mix.dearShare ? mix.dearMs : mix.cheapMs });
    measured.push(at >= mix.warmupMs);
  }
  return { jobs, measured };
}

/** Central queue's p50 ÷ round-robin's p50 over the measured arrivals of one seed pair. */
export function bestMedianRatio(mix: OpenLoopMix, servers: number, arrivalSeed: number, mixSeed: number): number {
  const { jobs, measured } = openLoopJobs(mix, arrivalSeed, mixSeed);
  const p50 = (latencies: number[]) => percentile(latencies.filter((_, i) => measured[i]), 0.5);
  return p50(centralQueue(jobs, servers)) / p50(roundRobin(jobs, servers));
}

/** The ratio on the run's own seeds, and its 10th, 50th and 90th percentile over `others` other seed pairs. */
export function medianRatioBound(mix: OpenLoopMix, servers: number, others = 200): { thisRun: number; p10: number; p50: number; p90: number } {
  const ratios = Array.from({ length: others }, (_, k) => bestMedianRatio(mix, servers, 1000 + 2 * k, 1001 + 2 * k));
  return { thisRun: bestMedianRatio(mix, servers, OPEN_LOOP_SEEDS.arrivals, OPEN_LOOP_SEEDS.mix), p10: percentile(ratios, 0.1), p50: percentile(ratios, 0.5), p90: percentile(ratios, 0.9) };
}
