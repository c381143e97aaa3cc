/** The parts of an upstream's config that server state and health checks read, in milliseconds. */
import type { UpstreamConfig } from '../../lib/config/load.js';

export interface HealthOptions {
  maxInflight: number | 'auto';
  /** Cap assumed for `max_inflight: auto` until a server's /readyz says otherwise; Infinity: uncapped. */
  defaultCap: number;
  /** Proxies sharing the servers: `auto` caps are divided between them. */
  replicas: number;
  failures: number;
  ejectMs: number;
  maxEjectMs: number;
  slowStartMs: number;
}

export function healthOptions(config: UpstreamConfig, defaultCap: number, replicas = 1): HealthOptions {
  return {
    replicas,
    maxInflight: config.max_inflight,
    defaultCap,
    failures: config.health.failures,
    ejectMs: config.health.eject,
    maxEjectMs: config.health.max_eject,
    slowStartMs: config.health.slow_start,
  };
}

/**
 * Whether two health configs check the same thing: the path, and whether it is the pool's
 * default /readyz. When a reload changes either, what the old check found says nothing.
 */
export function sameCheck(a: UpstreamConfig['health'], b: UpstreamConfig['health']): boolean {
  return a.path === b.path && a.readyzByDefault === b.readyzByDefault;
}
