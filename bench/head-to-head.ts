/**
 * Two servers measured at the same moment: both pinned to the same core, each
 * loaded by its own wrk on the other core. The core's time is shared between
 * them, and so is whatever a neighbour on this machine takes from it, so the
 * ratio of their costs holds while the absolute figures move by half between
 * runs seconds apart (as they did here with one server at a time).
 */
import { cpuSeconds } from './portico.js';
import { pinnedWrk } from './tools.js';

export interface Contender {
  url: string;
  /** The process whose CPU time is its cost. */
  pid: number;
}

export interface HeadToHead {
  /** a's requests per second ÷ b's, while both ran. */
  throughput: number;
  /** b's CPU per request ÷ a's: 0.95 means a request costs a 5 % more CPU than one through b. */
  cpu: number;
}

/** One run of `seconds` with both under load (each by `connections` clients). */
export async function headToHead(a: Contender, b: Contender, seconds: number, connections = 25): Promise<HeadToHead> {
  const cpuA = cpuSeconds(a.pid);
  const cpuB = cpuSeconds(b.pid);
  const [{ requests: requestsA }, { requests: requestsB }] = await Promise.all([pinnedWrk(a.url, seconds, connections), pinnedWrk(b.url, seconds, connections)]);
  const costA = (cpuSeconds(a.pid) - cpuA) / requestsA;
  const costB = (cpuSeconds(b.pid) - cpuB) / requestsB;
  return { throughput: requestsA / requestsB, cpu: costB / costA };
}
