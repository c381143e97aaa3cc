/**
 * When to restart a process that died. A process that became ready and stayed
 * up a while was serving, not crash-looping: it is restarted at once and its
 * failure count starts over, so kills every few seconds never look like a loop.
 * One that dies before that waits exponentially longer (like systemd's
 * RestartSec growing, or supervisord's backoff), up to a ceiling.
 */

export interface BackoffPolicy {
  /** First delay after a failure, in ms. */
  baseMs: number;
  /** Ceiling of the delay, in ms. */
  maxMs: number;
  /** A ready process that lived this long (ms) was healthy. */
  healthyUptimeMs: number;
  /** Consecutive failures from which the process is reported as crash-looping. */
  crashLoopAfter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 250, maxMs: 30_000, healthyUptimeMs: 1_000, crashLoopAfter: 5 };

export interface Death {
  /** Failures before this death. */
  failures: number;
  becameReady: boolean;
  uptimeMs: number;
}

export interface RestartPlan {
  delayMs: number;
  failures: number;
  crashLooping: boolean;
}

/**
 * @example planRestart({ failures: 0, becameReady: true, uptimeMs: 5000 }) // { delayMs: 0, failures: 0, crashLooping: false }
 */
export function planRestart(death: Death, policy: BackoffPolicy = DEFAULT_BACKOFF): RestartPlan {
  if (death.becameReady && death.uptimeMs >= policy.healthyUptimeMs) return { delayMs: 0, failures: 0, crashLooping: false };
  const failures = death.failures + 1;
  const delayMs = Math.min(policy.baseMs * 2 ** (failures - 1), policy.maxMs);
  return { delayMs, failures, crashLooping: failures >= policy.crashLoopAfter };
}
