/** The parts of an upstream's config that server state and health checks read, in milliseconds. */
import type { UpstreamConfig } from '../lib/config/load.js';

export interface HealthOptions {
  maxInflight: number | 'auto';
  /** Cap assumed for `max_inflight: auto` until a server's /readyz says otherwise. */
  defaultCap: number;
  failures: number;
  ejectMs: number;
  maxEjectMs: number;
  slowStartMs: number;
}

export function healthOptions(config: UpstreamConfig, defaultCap: number): HealthOptions {
  return {
    maxInflight: config.max_inflight,
    defaultCap,
    failures: config.health.failures,
    ejectMs: config.health.eject,
    maxEjectMs: config.health.max_eject,
    slowStartMs: config.health.slow_start,
  };
}
